"""Unusual heartbeats flagged by their bits: ``python docs/scripts/heartbeat_anomalies.py <heartbeat run dir>``.

Normal sequences (the run's test split) against the same sequences corrupted two ways: one bit flipped (at a position
drawn uniformly) and one beat missing (one of its pulses, drawn uniformly, set to 0). Each sequence's bound in bits
(``Run.nll_bound``: the estimator of the run's test bound) is its anomaly score. The ROC AUC of each corruption
against the normal sequences, the probability that a corrupted sequence costs more bits than a normal one (ties count
half), is computed from the sorted scores with numpy. Prints a table and writes a histogram of the bits
(docs/images/heartbeat_anomalies.png by default)."""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
FIGURE = ROOT / "docs" / "images" / "heartbeat_anomalies.png"


def flip_one_bit(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each sequence with one bit flipped, at a position drawn uniformly."""
    position = torch.randint(x.shape[1], (len(x),), generator=generator)
    out = x.clone()
    out[torch.arange(len(x)), position] = 1 - out[torch.arange(len(x)), position]
    return out


def drop_one_beat(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each sequence with one of its pulses (1s), drawn uniformly, set to 0; a sequence without one is kept."""
    u = torch.rand(x.shape, generator=generator)
    position = torch.where(x > 0, u, -1.0).argmax(1)  # the pulse with the largest draw: uniform over the pulses
    out = x.clone()
    out[torch.arange(len(x)), position] = 0
    return out


def roc_auc(normal: np.ndarray, anomalous: np.ndarray) -> float:
    """P(an anomalous score > a normal score) + ½ P(equal): the area under the ROC curve of the score as a detector
    (the Mann–Whitney U statistic over n·m pairs)."""
    ranked = np.sort(normal)
    below = np.searchsorted(ranked, anomalous, side="left")
    tied = np.searchsorted(ranked, anomalous, side="right") - below
    return float((below + 0.5 * tied).sum() / (len(normal) * len(anomalous)))


def histogram(bits: dict[str, np.ndarray], aucs: dict[str, float]):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    edges = np.histogram_bin_edges(np.concatenate(list(bits.values())), bins=60)
    for name, values in bits.items():
        label = name if name not in aucs else f"{name} (ROC AUC {aucs[name]:.3f})"
        ax.hist(values, bins=edges, histtype="step", lw=1.5, label=label)
    ax.set_xlabel("bound (bits per sequence)")
    ax.set_ylabel("sequences")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def score(run_dir: Path, n: int, seed: int, device: str) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Each set's bits and each corruption's AUC against the normal sequences."""
    from diffusion_lightning import load_run

    run = load_run(run_dir, device=device)
    if run.datamodule.kind != "binary":
        sys.exit(f"error: {run_dir} was trained on {run.datamodule.kind} data; give a heartbeat run (data=heartbeat)")
    normal = run.test_split()[:n]
    generator = torch.Generator().manual_seed(seed)
    sets = {"normal": normal, "one bit flipped": flip_one_bit(normal, generator),
            "one beat missing": drop_one_beat(normal, generator)}
    bits = {name: run.nll_bound(x).numpy() for name, x in sets.items()}
    aucs = {name: roc_auc(bits["normal"], values) for name, values in bits.items() if name != "normal"}
    return bits, aucs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a trained heartbeat run's directory")
    parser.add_argument("--n", type=int, default=2000, help="normal sequences: the first n of the test split")
    parser.add_argument("--seed", type=int, default=0, help="draws the corruptions")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=FIGURE, help=f"the histogram (default {FIGURE.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    bits, aucs = score(args.run, args.n, args.seed, args.device)
    print(f"{'sequences':<18}{'n':>6}{'mean bits':>11}{'median':>9}{'ROC AUC':>9}")
    for name, values in bits.items():
        auc = f"{aucs[name]:.4f}" if name in aucs else ""
        print(f"{name:<18}{len(values):>6}{values.mean():>11.3f}{np.median(values):>9.3f}{auc:>9}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    histogram(bits, aucs).savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
