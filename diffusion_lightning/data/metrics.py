"""Sample-quality metrics: energy distance for continuous data, sequence matches for binary data."""

import torch


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """2·E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖ (Székely & Rizzo), U-statistics within each set: 0 in expectation
    when X and Y come from one distribution, positive otherwise. Non-finite samples (a sampler that blew up)
    are infinitely far: inf, not NaN."""
    x, y = x.double().flatten(1), y.double().flatten(1)
    if min(len(x), len(y)) < 2:
        raise ValueError(f"the energy distance needs ≥ 2 points in each set, got {len(x)} and {len(y)}")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        return float("inf")
    n, m = len(x), len(y)
    xy = torch.cdist(x, y).mean()
    xx = torch.cdist(x, x).sum() / (n * (n - 1))
    yy = torch.cdist(y, y).sum() / (m * (m - 1))
    return float(2 * xy - xx - yy)


def match_fractions(samples: torch.Tensor, reference: dict[str, torch.Tensor]) -> dict[str, float]:
    """Fraction of samples equal to some sequence of each reference set, in order: a sample counts for
    the first set it matches (e.g. train, then val), and ``other`` holds those that match none."""
    s = samples.round().to(torch.uint8).flatten(1)
    unmatched = torch.ones(len(s), dtype=torch.bool)
    out = {}
    for name, ref in reference.items():
        hit = (s[:, None, :] == ref.round().to(torch.uint8).flatten(1).unique(dim=0)[None]).all(-1).any(-1)
        out[name] = float((hit & unmatched).float().mean())
        unmatched &= ~hit
    out["other"] = float(unmatched.float().mean())
    return out
