"""Validation's stratified estimate of the bound (``DiffusionProcess.bound(strata=K)``, ``val_strata``): exact where
T ≤ K, unbiased otherwise (strata of unequal sizes included), reproducible from its generator, precise for the
differences between two networks that checkpoint selection looks at; the test bound stays exact."""

import json

import pytest
import torch

from diffusion_lightning.diffusion.objectives import KL
from diffusion_lightning.diffusion.processes import BinomialDiffusion, GaussianDiffusion
from diffusion_lightning.diffusion.schedules import linear
from diffusion_lightning.errors import ConfigError
from diffusion_lightning.networks.conditional import ConditionalMLP
from diffusion_lightning.training.run import run

T, K = 50, 8  # strata of 1 to 19 steps


def setup(kind: str, seed: int = 0):
    torch.manual_seed(seed)
    if kind == "gaussian":
        process = GaussianDiffusion(linear(T), KL())
        x0 = torch.randn(100, 2)
    else:
        process = BinomialDiffusion(linear(T, 1e-3, 0.2), KL())
        x0 = (torch.rand(100, 6) < 0.3).float()
    net = ConditionalMLP(x0.shape[1], process.out_dim(x0.shape[1]), T, hidden=16)
    return process, net, x0


def bound(process, net, x0, seed, strata=None):
    return process.bound(net, x0, generator=torch.Generator().manual_seed(seed), strata=strata)


@pytest.mark.parametrize("kind", ["gaussian", "binomial"])
def test_the_estimate_is_the_exact_bound_where_T_is_at_most_the_strata(kind):
    process, net, x0 = setup(kind)
    exact, exact_per_t = bound(process, net, x0, 1)
    for strata in (T, 2 * T):
        bits, per_t = bound(process, net, x0, 1, strata)
        assert torch.equal(bits, exact) and torch.equal(per_t, exact_per_t)


@pytest.mark.parametrize("kind", ["gaussian", "binomial"])
def test_the_estimate_is_unbiased_and_its_terms_sum_to_it(kind):
    """Over 300 draws the estimate's mean per point comes within 4 standard errors of the exact bound's mean (whose
    x_t are random too); leaving out the strata's sizes as weights would miss by far more."""
    process, net, x0 = setup(kind)
    estimates = torch.stack([bound(process, net, x0, seed, K)[0] for seed in range(300)]).mean(1)
    exact = torch.stack([bound(process, net, x0, seed)[0] for seed in range(30)]).mean(1)
    se = (estimates.var() / len(estimates) + exact.var() / len(exact)).sqrt()
    assert abs(estimates.mean() - exact.mean()) < 4 * se
    assert se < 0.02 * exact.mean().abs()  # a test that could fail: the draws resolve a 2 % bias
    bits, per_t = bound(process, net, x0, 7, K)
    assert len(per_t) == T + 1 and torch.isclose(per_t.sum(), bits.mean(), rtol=1e-9)
    assert len(set(per_t[1:].tolist())) == K  # every t of a stratum holds the stratum's mean term


def test_the_same_generator_draws_the_same_estimate_and_another_one_another():
    process, net, x0 = setup("gaussian")
    assert torch.equal(bound(process, net, x0, 3, K)[0], bound(process, net, x0, 3, K)[0])
    assert not torch.equal(bound(process, net, x0, 3, K)[0], bound(process, net, x0, 4, K)[0])


def test_two_networks_differ_by_the_estimate_as_by_the_exact_bound():
    """Checkpoint selection compares networks under the same draws (``eval_seed``): their estimated difference
    stays close to the exact one, well within its paired standard error, whose size is a fraction of the
    difference. The second network is the first with its readout nudged."""
    process, net, x0 = setup("gaussian")
    other = ConditionalMLP(2, process.out_dim(2), T, hidden=16)
    other.load_state_dict(net.state_dict())
    with torch.no_grad():
        other.readout.bias.add_(0.05)
    exact = bound(process, other, x0, 1)[0] - bound(process, net, x0, 1)[0]
    estimate = bound(process, other, x0, 1, K)[0] - bound(process, net, x0, 1, K)[0]
    se = estimate.std() / len(estimate) ** 0.5
    assert abs(estimate.mean()) > 3 * se and estimate.mean().sign() == exact.mean().sign()
    assert abs(estimate.mean() - exact.mean()) < 3 * se


def test_validation_estimates_and_the_test_stays_exact(make_cfg, tmp_path):
    """With T above ``val_strata`` the validation bound is an estimate, and ``val_strata=null`` makes it exact;
    training and the test bound are the same either way."""
    summaries = {}
    for strata in ("32", "null"):
        out = tmp_path / strata
        run(make_cfg("debug=fast", "T=40", "logger=none", f"paths.output_dir={out}", f"val_strata={strata}",
                     "callbacks.figures=null"))
        summaries[strata] = json.loads((out / "summary.json").read_text())
    estimate, exact = summaries["32"], summaries["null"]
    assert estimate["test/nll_bound_bits"] == exact["test/nll_bound_bits"]
    assert estimate["val/nll_bound_bits"] != exact["val/nll_bound_bits"]


OVERFIT = ["T=1000", "data.n_train=64", "lr_scheduler=none", "optimizer.lr=5e-3", "trainer.max_steps=4000",
           "trainer.val_check_interval=250", "logger=none", "callbacks.sample_metrics.val_samples=0"]


@pytest.mark.slow
def test_the_estimate_picks_the_checkpoint_that_the_exact_bound_picks(make_cfg, tmp_path):
    """A run where it matters (docs/outputs.md): 64 training points overfit after about step 2000, so best.ckpt is
    not the last; validated by the estimate or exactly, best.ckpt is the same step and the test bound the same."""
    best, test = {}, {}
    for strata in ("32", "null"):
        out = tmp_path / strata
        run(make_cfg(*OVERFIT, f"paths.output_dir={out}", f"val_strata={strata}", "callbacks.figures=null"))
        best[strata] = json.loads((out / "checkpoints" / "best.json").read_text())["global_step"]
        test[strata] = json.loads((out / "summary.json").read_text())["test/nll_bound_bits"]
    assert best["32"] == best["null"] < 4000 and test["32"] == test["null"]


@pytest.mark.parametrize("value", ["1", "-3", "2.5"])
def test_a_bad_val_strata_is_refused_in_one_line(make_cfg, value):
    with pytest.raises(ConfigError, match="val_strata"):
        run(make_cfg("debug=fast", "logger=none", f"val_strata={value}"))
