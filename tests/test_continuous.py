"""Continuous-time Gaussian diffusion (process=gaussian_continuous, VDM): a known answer, unbiased estimates, a
monotone schedule, any number of sampling steps, one-line refusals, and a run that resumes exactly."""

import json
import math

import pytest
import torch
from torch import nn

from diffusion_lightning.errors import ConfigError
from diffusion_lightning.diffusion.losses import LOG2
from diffusion_lightning.diffusion.processes import ContinuousGaussianDiffusion
from diffusion_lightning.diffusion.schedules import linear
from diffusion_lightning.training.run import build, run

from .test_resume import CtrlCAt

STEPS = ["debug=fast", "process=gaussian_continuous", "T=20", "process.eval_t=20", "logger=none",
         "trainer.max_steps=30", "trainer.val_check_interval=10", "callbacks.sample_metrics=null",
         "callbacks.figures.n_samples=64", "callbacks.last_checkpoint.every_n_train_steps=10"]


def process(gamma_0=-8.0, gamma_1=6.0, **kwargs) -> ContinuousGaussianDiffusion:
    return ContinuousGaussianDiffusion(linear(T=100), gamma_0=gamma_0, gamma_1=gamma_1, **kwargs)


class Oracle(nn.Module):
    """ε̂(z_t) = c·σ_t·z_t; c = 1 is E[ε|z_t] for x ~ N(0, I) (then z_t ~ N(0, I) and Cov(ε, z_t) = σ_t·I)."""

    def __init__(self, p: ContinuousGaussianDiffusion, c: float = 1.0):
        super().__init__()
        self.p, self.c, self.calls = p, c, 0

    def forward(self, z, t_steps):
        self.calls += 1
        gamma, _ = self.p.schedule(t_steps / self.p.T)
        return self.c * torch.sigmoid(gamma).sqrt()[:, None] * z


def expected_bound(p: ContinuousGaussianDiffusion, x: torch.Tensor, c: float, n_quad: int = 20001) -> torch.Tensor:
    """E over t and ε of the bound for ε̂ = c·σ_t·z_t, nats per point: E‖ε − ε̂‖² = d(1 − cσ²)² + c²σ²α²‖x‖²,
    integrated over t by the trapezoidal rule (float64)."""
    d, sq = x.shape[1], x.double().pow(2).sum(1)
    with torch.no_grad():
        t = torch.linspace(0, 1, n_quad, dtype=torch.float64)
        g0, g1 = (g.double() for g in p.schedule.ends())
        gamma = g0 + (g1 - g0) * t
        s2, a2 = torch.sigmoid(gamma), torch.sigmoid(-gamma)
        integrand = 0.5 * (g1 - g0) * (d * (1 - c * s2)[:, None] ** 2 + (c**2 * s2 * a2)[:, None] * sq)
        diffusion = torch.trapezoid(integrand, t, dim=0)
        return p.prior_term(x).double() + p.decoder_term(x).double() + diffusion


def test_the_oracle_bound_of_gaussian_data_is_its_true_nll():
    """For x ~ N(0, I) and the exact ε-predictor the bound is −log N(x; 0, I) + ½σ_0²(d − ‖x‖²) + ½d·softplus(γ_0)
    (in closed form), which tends to the true NLL as γ_0 → −∞: the Monte-Carlo bound must match it per point."""
    torch.manual_seed(0)
    p, d = process(gamma_0=-13.3, gamma_1=5.0), 2
    x = torch.randn(4000, d)
    bits, per_t = p.bound(Oracle(p), x, generator=torch.Generator().manual_seed(1))
    g0 = torch.tensor(-13.3)
    closed = p.null_nll(x) + 0.5 * torch.sigmoid(g0) * (d - x.pow(2).sum(1)) + 0.5 * d * torch.nn.functional.softplus(g0)
    assert torch.allclose(expected_bound(p, x, 1.0).float(), closed, atol=1e-4)
    gap = bits - closed.double() / LOG2  # paired per point: only the Monte-Carlo error remains
    se = gap.std() / math.sqrt(len(gap))
    assert abs(gap.mean()) < 4 * se and se < 0.01
    assert abs(bits.mean() - p.null_nll(x).mean() / LOG2) < 4 * se + 1e-4
    assert per_t.shape == (p.eval_t + 1,) and per_t.sum() == pytest.approx(bits.mean().item(), abs=1e-9)


@pytest.mark.parametrize("c", [0.0, 0.5, 1.3])
def test_the_training_and_evaluated_estimates_are_unbiased(c):
    """For a wrong predictor as for the right one, the average of many low-discrepancy training estimates and of
    stratified evaluations equals the bound integrated over t."""
    torch.manual_seed(0)
    p = process()
    x = torch.randn(64, 2) * 0.3 + 0.5
    exact = expected_bound(p, x, c).mean().item()
    with torch.no_grad():
        losses = torch.stack([p.training_losses(Oracle(p, c), x)["loss"] for _ in range(400)])
    assert abs(losses.mean().item() - exact) < 4 * losses.std().item() / math.sqrt(len(losses))
    bits = torch.stack([p.bound(Oracle(p, c), x)[0].mean() for _ in range(100)]) * LOG2
    assert abs(bits.mean().item() - exact) < 4 * bits.std().item() / math.sqrt(len(bits)) + 1e-6


def test_the_loss_trains_both_end_points():
    p = process()
    net = nn.Linear(2, 2)
    p.training_losses(lambda z, t: net(z), torch.randn(128, 2) * 0.1)["loss"].backward()
    assert p.schedule.gamma_0.grad != 0 and p.schedule.width.grad != 0 and net.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("width", [-30.0, -3.0, 0.0, 3.0, 40.0])
def test_the_schedule_is_monotone_whatever_its_parameters(width):
    p = process(sample_steps=50)
    with torch.no_grad():
        p.schedule.width.fill_(width)
    gamma, dgamma = p.schedule(torch.linspace(0, 1, 1001))
    assert (dgamma > 0).all() and (gamma[1:] >= gamma[:-1]).all()
    if width > -20:  # below, the whole schedule spans < 1e-8 nats: no step loses signal in float64 either
        betas = p.schedule.betas().detach()
        assert ((betas > 0) & (betas < 1)).all()
        log_alpha_bar = torch.cumsum(torch.log1p(-betas), 0)
        lam = log_alpha_bar - torch.log(-torch.expm1(log_alpha_bar))
        grid = torch.arange(1, 51, dtype=torch.float64) / 50
        assert torch.allclose(lam, -p.schedule(grid)[0].detach().double(), atol=1e-5)


def test_it_starts_from_the_schedules_end_points():
    betas = linear(T=100)
    log_alpha_bar = torch.cumsum(torch.log1p(-torch.as_tensor(betas, dtype=torch.float64)), 0)
    lam = log_alpha_bar - torch.log(-torch.expm1(log_alpha_bar))
    p = ContinuousGaussianDiffusion(betas)
    g0, g1 = p.schedule.ends()
    assert g0.item() == pytest.approx(-lam[0].item(), rel=1e-5) and g1.item() == pytest.approx(-lam[-1].item(), rel=1e-5)


@pytest.mark.parametrize("steps", [1, 7, 50])
def test_sampling_takes_any_number_of_steps(steps):
    p = process(sample_steps=steps)
    net = Oracle(p)
    x, frames = p.sample(net, (100, 2), record=(0, 1, steps), generator=torch.Generator().manual_seed(0))
    assert net.calls == steps and p.T == steps
    assert x.shape == (100, 2) and set(frames) == {0, 1, steps} and torch.equal(frames[0], x)
    z = p.q_sample(x, torch.full((100,), steps))  # an integer step is t = step/T: here the noise end
    assert z.shape == x.shape and not z.requires_grad


def test_many_steps_sample_the_oracles_gaussian():
    p = process(sample_steps=1000)
    x, _ = p.sample(Oracle(p), (20000, 2), generator=torch.Generator().manual_seed(0))
    assert x.mean(0).abs().max() < 0.05 and (x.var(0) - 1).abs().max() < 0.05


@pytest.mark.parametrize("override,key", [("loss=mse", "loss=kl"), ("loss=hybrid", "loss=kl"),
                                          ("data=heartbeat", "process=binomial"),
                                          ("schedule=learned", "schedule=linear"),
                                          ("process.sample_steps=0", "process.sample_steps=100"),
                                          ("process.gamma_0=50", "process.gamma_0=-13.3")])
def test_what_does_not_suit_it_is_refused_in_one_line(make_cfg, override, key):
    overrides = [s for s in STEPS if not s.startswith("process.")] + [override]
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as error:
        build(make_cfg(*overrides))
    assert "\n" not in str(error.value)


def test_a_run_trains_the_end_points_draws_its_figures_and_resumes_exactly(make_cfg, tmp_path):
    cfg = make_cfg(*STEPS)
    datamodule, module, trainer = build(cfg)
    start = [v.detach().clone() for v in module.process.schedule.ends()]
    trainer.callbacks.append(CtrlCAt(15))
    with pytest.raises(SystemExit):
        trainer.fit(module, datamodule=datamodule)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    saved = torch.load(ckpt, weights_only=False)["state_dict"]
    assert saved["process.schedule.gamma_0"] != start[0]  # trained, and checkpointed

    resumed_dir, plain_dir = tmp_path / "resumed", tmp_path / "plain"
    run(make_cfg(*STEPS, f"ckpt_path={ckpt}", f"paths.output_dir={resumed_dir}"))
    run(make_cfg(*STEPS, f"paths.output_dir={plain_dir}"))
    resumed, plain = (json.loads((d / "summary.json").read_text()) for d in (resumed_dir, plain_dir))
    assert resumed["step"] == plain["step"] == 30
    assert resumed["test/nll_bound_bits"] == pytest.approx(plain["test/nll_bound_bits"], abs=1e-4)
    assert plain["test/nll_bound_se_bits"] > 0
    a = torch.load(resumed_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    b = torch.load(plain_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in b)
    for name in ("forward_process", "reverse_process", "samples", "bound_per_t", "schedule"):
        assert (plain_dir / "figures" / f"{name}.png").exists()
    per_t = json.loads((plain_dir / "bound_per_t.json").read_text())
    assert len(per_t["bits"]) == 21


@pytest.mark.parametrize("model", ["mlp", "per_step", "slides"])
def test_every_network_takes_continuous_time(make_cfg, model):
    """The networks are told t·T: a float, embedded as it is, or held by the step above it in per-step layers."""
    _, module, _ = build(make_cfg(*STEPS, f"model={model}"))
    p, net = module.process, module.net
    x0 = torch.randn(16, 2)
    assert torch.isfinite(p.training_losses(net, x0)["loss"])
    bits, _ = p.bound(net, x0)
    x, frames = p.sample(net, (8, 2), record=(p.T,))
    assert torch.isfinite(bits).all() and x.shape == (8, 2) and set(frames) == {0, p.T}


def test_a_sweep_against_the_discrete_process_is_reported_with_w_and_b(tmp_path, capsys):
    """`-m process=gaussian,gaussian_continuous` logged to W&B offline: one finished job each, and one report row each."""
    from diffusion_lightning.sweeps.report import main as report

    from .test_sweeps import TINY, job_dirs, sweep

    sweep_dir = tmp_path / "grid"
    result = sweep(sweep_dir, *TINY, "logger=wandb", "process=gaussian,gaussian_continuous")
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = job_dirs(sweep_dir)
    assert len(jobs) == 2 and all((job / "wandb").is_dir() and (job / "figures" / "samples.png").is_file() for job in jobs)
    assert report([str(sweep_dir)]) == 0
    assert capsys.readouterr().out.count("| finished |") == 2
