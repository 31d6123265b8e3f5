"""Known answers for the toy suite's true NLLs: each density integrates to 1 on a grid (to 1e-3), agrees with 10⁶ of
its own draws binned into Gaussian bins, and the mixtures match torch's closed form; the quadratures are converged to
1e-4 bits. The grids are fine enough that the sums are exact to round-off for densities smooth on the noise's scale
(a grid step h ≤ σ leaves a relative error of about exp(−2π²σ²/h²)), and aligned with the checkerboard's squares."""

import json
import math

import pytest
import torch

from diffusion_lightning.data import ToyDataModule
from diffusion_lightning.data.toys import TOYS, make_toy
from diffusion_lightning.data.toys.curves import Moons, TwoSpirals
from diffusion_lightning.training.run import run

CHECKER = 2 / math.sqrt(64 / 12)  # a checkerboard square's side, standardised
# (half-width R, grid step h) of each 2-D toy's grid, in standardised units: R past the support by ≥ 7σ, h ≤ σ
GRIDS = {"8gaussians": (2.8, 0.08), "checkerboard": (2 * CHECKER, CHECKER / 40), "moons": (3.0, 0.07),
         "circles": (3.0, 0.07), "rings": (2.6, 0.04), "pinwheel": (3.6, 0.05), "2spirals": (2.5, 0.0625),
         "mixture": (4.0, 0.15)}
N_DRAWS = 10**6
BIN_WIDTH, BIN_STEP = 0.25, 0.5  # Gaussian bins: σ of each bin's kernel, spacing of their centres


def axis_of(half: float, h: float) -> torch.Tensor:
    """Cell centres of a grid axis over [−half, half] (cells aligned with ±half)."""
    axis = torch.arange(-half + h / 2, half, h, dtype=torch.float64)
    return axis


@pytest.fixture(scope="module", params=sorted(GRIDS))
def toy_on_grid(request):
    name = request.param
    half, h = GRIDS[name]
    axis = axis_of(half, h)
    toy = make_toy(name)
    p = torch.exp2(-toy.nll_bits(torch.cartesian_prod(axis, axis)).double()).view(len(axis), len(axis))
    return name, toy, axis, h, p


def test_each_density_integrates_to_one(toy_on_grid):
    name, _, _, h, p = toy_on_grid
    assert float(p.sum() * h * h) == pytest.approx(1.0, abs=1e-3), name


def test_each_density_agrees_with_a_histogram_of_a_million_draws(toy_on_grid):
    """Gaussian bins (kernel σ = 0.25, centres every 0.5): each bin's mean over 10⁶ draws is within 5 standard errors
    of its expectation under the density, integrated on the grid (exact to round-off: the bins are smooth)."""
    name, toy, axis, h, p = toy_on_grid
    centres = torch.arange(-2.5, 2.51, BIN_STEP, dtype=torch.float64)

    def bins(u: torch.Tensor) -> torch.Tensor:  # [n] → [n, bins]: each coordinate's factor of every bin
        return torch.exp(-((u[:, None] - centres) ** 2) / (2 * BIN_WIDTH**2))

    expected = bins(axis).T @ p @ bins(axis) * h * h  # E_p[g_ij] = ∫∫ p(x)·g_i(x₁)·g_j(x₂)
    x = toy.sample(N_DRAWS, torch.Generator().manual_seed(5)).double()
    g1, g2 = bins(x[:, 0]), bins(x[:, 1])
    mean, second = g1.T @ g2 / N_DRAWS, (g1**2).T @ g2**2 / N_DRAWS
    se = ((second - mean**2) / N_DRAWS).sqrt()
    z = ((mean - expected).abs() / (se + 1e-12))[expected > 1e-4]
    assert z.max() < 5, (name, float(z.max()))


@pytest.mark.parametrize("dim", [1, 5])
def test_the_mixture_is_its_closed_form_in_any_dimension(dim):
    """2d equal components N(±2·e_i, 0.5²I), standardised by the scale √(4/d + 0.25): torch's own mixture density."""
    toy = make_toy("mixture", dim)
    scale = math.sqrt(4 / dim + 0.25)
    assert toy.scale == pytest.approx(scale) and toy.center.abs().max() == 0
    eye = torch.eye(dim, dtype=torch.float64)
    means = torch.cat([eye, -eye]) * 2 / scale
    reference = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(2 * dim, dtype=torch.float64)),
        torch.distributions.Independent(torch.distributions.Normal(means, torch.full_like(means, 0.5 / scale)), 1))
    x = toy.sample(5000, torch.Generator().manual_seed(0)).double()
    assert torch.allclose(toy.nll_bits(x).double(), -reference.log_prob(x) / math.log(2), atol=1e-5)
    assert x.var(0).mean() == pytest.approx(1.0, abs=0.03)
    if dim == 1:
        axis = axis_of(4.0, 0.02)
        assert float(torch.exp2(-toy.nll_bits(axis[:, None]).double()).sum() * 0.02) == pytest.approx(1.0, abs=1e-3)


def test_eight_gaussians_is_its_closed_form():
    toy = make_toy("8gaussians")
    angles = torch.arange(8, dtype=torch.float64) * math.pi / 4
    means = 2 * math.sqrt(2) * torch.stack([angles.cos(), angles.sin()], 1) / toy.scale
    reference = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(8, dtype=torch.float64)), torch.distributions.Independent(
            torch.distributions.Normal(means, torch.full_like(means, 1 / (2 * math.sqrt(2)) / toy.scale)), 1))
    x = toy.sample(5000, torch.Generator().manual_seed(0)).double()
    assert torch.allclose(toy.nll_bits(x).double(), -reference.log_prob(x) / math.log(2), atol=1e-5)


def test_closed_forms_of_the_checkerboard_and_rings():
    """Inside the board p = 1/32 in FFJORD's units, so −log₂ p(x) = 5 − 2·log₂ scale; a point off the board is
    impossible. A ring's density at its centre is N(0; r, σ²)-like: exp(−r²/2σ²)/(2πσ²)."""
    board = make_toy("checkerboard")
    x = board.sample(1000, torch.Generator().manual_seed(0))
    assert torch.allclose(board.nll_bits(x).double(), torch.full((1000,), 5 - 2 * math.log2(board.scale),
                                                                  dtype=torch.float64), atol=1e-5)
    assert board.nll_bits(torch.tensor([[0.5 * CHECKER, -0.5 * CHECKER]])).isinf().all()  # a white square
    circle = make_toy("circles")
    radii, sigma = torch.tensor([3.0, 1.5], dtype=torch.float64), 0.24
    centre = (0.5 * torch.exp(-radii**2 / (2 * sigma**2)) / (2 * math.pi * sigma**2)).sum() * circle.scale**2
    assert float(circle.nll_bits(torch.zeros(1, 2))) == pytest.approx(-math.log2(float(centre)), abs=1e-4)


def test_the_quadratures_are_converged_to_a_ten_thousandth_of_a_bit():
    """Panels half as long (σ instead of 2σ along the curve) move no point's NLL by 1e-4 bits."""
    for coarse, fine in ((Moons(), Moons(panel=1.0)), (TwoSpirals(), TwoSpirals(panel=1.0))):
        x = coarse.sample(2000, torch.Generator().manual_seed(0))
        assert (coarse.nll_bits(x).double() - fine.nll_bits(x).double()).abs().max() < 1e-4
        assert len(fine.curve) > 1.8 * len(coarse.curve)


def test_toys_are_seeded_standardised_and_the_swiss_roll_is_data_swiss_roll():
    from diffusion_lightning.data import SwissRollDataModule

    a, b, c = (ToyDataModule("pinwheel", n_train=20_000, seed=s) for s in (3, 3, 4))
    for dm in (a, b, c):
        dm.setup()
    assert a.splits["train"].equal(b.splits["train"]) and not a.splits["train"].equal(c.splits["train"])
    assert a.splits["train"].mean(0).abs().max() < 0.03 and (a.splits["train"].var(0).mean() - 1).abs() < 0.03
    roll, toy = SwissRollDataModule(n_train=1000, seed=2), ToyDataModule("swissroll", n_train=1000, n_val=2000, seed=2)
    roll.setup(), toy.setup()
    assert roll.splits["test"].equal(toy.splits["test"])
    assert set(TOYS) == {"swissroll", "8gaussians", "checkerboard", "moons", "circles", "rings", "pinwheel",
                         "2spirals", "mixture"}


@pytest.mark.parametrize("kwargs,message", [
    ({"name": "spiral"}, r"data.name=spiral is not a toy; choose one of swissroll, 8gaussians, checkerboard, moons, "
                         r"circles, rings, pinwheel, 2spirals, mixture"),
    ({"name": "mixture", "dim": 0}, r"data.dim=0 must be a whole number ≥ 1"),
    ({"name": "mixture", "dim": -3}, r"data.dim=-3 must be a whole number ≥ 1"),
    ({"name": "moons", "dim": 3}, r"data.dim=3: data.name=moons is 2-D; only data.name=mixture takes another"),
])
def test_bad_toys_are_refused_in_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ToyDataModule(**kwargs)


def test_a_mixture_in_three_dimensions_trains_and_reports_its_gap(make_cfg, tmp_path, caplog):
    with caplog.at_level("INFO"):
        run(make_cfg("data=toy", "data.name=mixture", "data.dim=3", "debug=fast", "logger=none"))
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["status"] == "finished" and s["test/gap_bits"] == pytest.approx(s["test/nll_bound_bits"]
                                                                            - s["test/true_nll_bits"])
    assert any("the data has 3 coordinates" in r.getMessage() for r in caplog.records)


def test_the_toy_suite_sweeps_reports_by_gap_and_draws_its_picture(tmp_path):
    """sweep=toy_suite narrowed to two toys and a few steps: every job finishes, the report ranks by the gap, and
    docs/scripts/pictures.py draws one row per toy from the jobs' samples.npz."""
    import importlib.util

    from tests.conftest import ROOT, run_sweep

    sweep_dir = tmp_path / "toy_suite"
    result = run_sweep(sweep_dir, "sweep=toy_suite", "data.name=moons,rings", "trainer.max_steps=50",
                       "trainer.val_check_interval=50", "data.n_train=5000", "data.n_val=500", "data.n_test=500",
                       "callbacks.sample_metrics.n_samples=200", "callbacks.figures.n_samples=200", "logger=none")
    assert result.returncode == 0, result.stderr[-2000:]
    from diffusion_lightning.sweeps.report.sweep import Sweep

    sweep = Sweep.read(sweep_dir)
    assert sweep.metric == "test/gap_bits" and len(sweep.groups()) == 4
    spec = importlib.util.spec_from_file_location("pictures", ROOT / "docs" / "scripts" / "pictures.py")
    pictures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pictures)
    pictures.toy_suite_picture(sweep_dir, tmp_path / "toy_suite.png")
    assert (tmp_path / "toy_suite.png").stat().st_size > 10_000
