"""schedule=learned (paper §2.4.1): β in (0, 1) whatever the parameters, the bound exact and differentiable in them,
coefficients rebuilt once per step, parameters checkpointed, resume exact, pairs that cannot learn β refused."""

import json

import pytest
import torch

from diffusion_lightning.diffusion import schedules
from diffusion_lightning.errors import ConfigError
from diffusion_lightning.diffusion.learned_schedule import LearnedSchedule, log_snr
from diffusion_lightning.diffusion.objectives import KL, MSE, Hybrid
from diffusion_lightning.diffusion.processes import BinomialDiffusion, GaussianDiffusion
from diffusion_lightning.training.run import build, run

from .test_resume import STEPS, CtrlCAt


class Net(torch.nn.Module):
    """A small reverse network that depends on x_t, so the bound depends on the schedule through it too."""

    def __init__(self, T: int):
        super().__init__()
        self.lin = torch.nn.Linear(2, 4)
        self.emb = torch.nn.Embedding(T + 1, 4)

    def forward(self, x, t):
        return self.lin(x) + self.emb(t)


def test_it_starts_on_its_init_schedule_with_the_fixed_first_step():
    for learn_end in (True, False):
        s = LearnedSchedule(40, schedules.linear, learn_log_snr_end=learn_end)
        assert torch.allclose(s.betas(), schedules.linear(40), rtol=1e-6)
    s = LearnedSchedule(40, schedules.cosine, beta_1=1e-6)
    assert s.betas()[0].item() == pytest.approx(1e-6, rel=1e-9)
    assert torch.allclose(s.betas()[1:], schedules.cosine(40)[1:], rtol=1e-6)


@pytest.mark.parametrize("learn_end", [True, False])
@pytest.mark.parametrize("T", [2, 40, 1000])
def test_every_beta_stays_in_0_1_and_the_snr_decreasing_whatever_the_parameters(T, learn_end):
    s = LearnedSchedule(T, schedules.linear, learn_log_snr_end=learn_end)
    end = s.log_snr()[-1].item()
    g = torch.Generator().manual_seed(T)
    for scale in (0.1, 3.0, 30.0):  # |u| up to ~100: more than Adam moves it in 20k steps at lr 2e-3
        with torch.no_grad():
            s.u.copy_(scale * torch.randn(s.u.shape, generator=g))
        betas = s.betas()
        assert ((betas > 0) & (betas < 1)).all()
        assert (s.steps() > 0).all() and (torch.diff(s.log_snr()) <= 0).all()
        assert betas[0].item() == pytest.approx(s.initial[0].item(), rel=1e-9)  # β_1 never moves
        if not learn_end:
            assert s.log_snr()[-1].item() == pytest.approx(end, abs=1e-9)


def test_log_snr_of_the_betas_is_the_parameterisation():
    s = LearnedSchedule(40, schedules.linear)
    with torch.no_grad():
        s.u.add_(0.3 * torch.randn(s.u.shape, generator=torch.Generator().manual_seed(0)))
    assert torch.allclose(log_snr(s.betas()), s.log_snr(), atol=1e-9)


def test_the_bound_reaches_the_parameters_once_per_step_and_is_exact():
    torch.manual_seed(0)
    T, x0 = 20, torch.randn(64, 2)
    process, net = GaussianDiffusion(LearnedSchedule(T, schedules.linear)), Net(T)
    calls = []
    betas = process.schedule.betas
    process.schedule.betas = lambda: calls.append(1) or betas()
    terms = process.training_losses(net, x0)
    terms["loss"].backward()
    assert len(calls) == 1 and process.schedule.u.grad.abs().sum() > 0
    assert not any(b.requires_grad for b in process.buffers())  # detached between steps
    assert "alpha_bar" not in process.state_dict()  # and still not persistent once replaced
    with torch.no_grad():
        process.schedule.u.sub_(0.5 * process.schedule.u.grad.sign())
    # The exact bound of the learned process is the bound of a fixed one built from its current β.
    fixed = GaussianDiffusion(process.schedule.betas().detach())
    a, per_t_a = process.bound(net, x0, generator=torch.Generator().manual_seed(1))
    b, per_t_b = fixed.bound(net, x0, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(a, b) and torch.allclose(per_t_a, per_t_b)


def test_the_parameters_are_in_the_state_dict_and_loading_them_rebuilds_the_coefficients():
    process = GaussianDiffusion(LearnedSchedule(30, schedules.linear))
    with torch.no_grad():
        process.schedule.u.add_(1.0)
    state = process.state_dict()
    assert "schedule.u" in state and "alpha_bar" not in state  # coefficients follow from the parameters
    fresh = GaussianDiffusion(LearnedSchedule(30, schedules.linear))
    fresh.load_state_dict(state)
    betas = torch.cat([torch.zeros(1, dtype=torch.float64), process.schedule.betas().detach()])
    assert torch.equal(fresh.alpha_bar, torch.cumprod(1 - betas, 0).to(process.alpha_bar))


@pytest.mark.parametrize("loss", [MSE(), Hybrid()])
def test_a_loss_that_is_not_the_bound_is_refused(loss):
    with pytest.raises(ConfigError, match="use loss=kl") as error:
        GaussianDiffusion(LearnedSchedule(10, schedules.linear), loss=loss, variance="fixed_small"
                          if isinstance(loss, MSE) else "learned_range")
    assert "\n" not in str(error.value)
    GaussianDiffusion(LearnedSchedule(10, schedules.linear), loss=KL())


def test_binomial_diffusion_refuses_it():
    with pytest.raises(ConfigError, match="schedule=sohl_dickstein") as error:
        BinomialDiffusion(LearnedSchedule(10, schedules.linear), prior=0.2)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("overrides", [["loss=mse"], ["data=heartbeat"]])
def test_the_cli_refuses_the_pairs_in_one_line(cli, overrides):
    result = cli("debug=fast", "logger=none", "schedule=learned", *overrides)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: schedule=learned")


def test_a_run_learns_the_schedule_draws_its_figure_and_resumes_exactly(make_cfg, tmp_path):
    steps = [*(s for s in STEPS if s != "callbacks.figures=null"), "schedule=learned", "callbacks.figures.n_samples=64"]
    cfg = make_cfg(*steps)
    datamodule, module, trainer = build(cfg)
    start = module.process.schedule.u.detach().clone()
    trainer.callbacks.append(CtrlCAt(15))
    with pytest.raises(SystemExit):
        trainer.fit(module, datamodule=datamodule)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    saved = torch.load(ckpt, weights_only=False)["state_dict"]
    assert not torch.equal(saved["process.schedule.u"], start)  # trained, and checkpointed

    resumed_dir, plain_dir = tmp_path / "resumed", tmp_path / "plain"
    run(make_cfg(*steps, f"ckpt_path={ckpt}", f"paths.output_dir={resumed_dir}"))
    run(make_cfg(*steps, f"paths.output_dir={plain_dir}"))
    resumed, plain = (json.loads((d / "summary.json").read_text()) for d in (resumed_dir, plain_dir))
    assert resumed["step"] == plain["step"] == 30
    assert resumed["test/nll_bound_bits"] == pytest.approx(plain["test/nll_bound_bits"], abs=1e-4)
    a = torch.load(resumed_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    b = torch.load(plain_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert torch.allclose(a["process.schedule.u"], b["process.schedule.u"], atol=1e-6)
    assert (plain_dir / "figures" / "schedule.png").exists()


def test_log_snr_linear_spaces_the_log_snr_evenly():
    betas = schedules.log_snr_linear(40, 13.8, -9.0)
    schedules.check_betas(betas)
    lam = log_snr(betas)
    assert lam[0].item() == pytest.approx(13.8) and lam[-1].item() == pytest.approx(-9.0)
    assert torch.allclose(torch.diff(lam), torch.full((39,), -22.8 / 39, dtype=torch.float64))
    with pytest.raises(ConfigError, match="log_snr_end"):
        schedules.log_snr_linear(10, -1.0, 1.0)


def test_the_paper_preset_and_the_gap_sweep_compose(make_cfg):
    from hydra.utils import instantiate

    cfg = make_cfg("experiment=swissroll_paper")
    assert cfg.T == 40 and cfg.data.noise == 0.02
    schedule = instantiate(cfg.schedule)(T=cfg.T)
    assert schedule.betas()[0].item() == pytest.approx(1e-6, rel=0.05)
    assert (1 - schedule.betas()).prod().item() < 1e-3
    cfg = make_cfg("sweep=swissroll_gap")
    assert cfg.sweep_name == "swissroll_gap" and cfg.trainer.max_steps == 5000


def test_its_state_is_the_parameters_and_its_defaults_learn_the_end_point():
    """learn_log_snr_end defaults to true: moving u moves λ_T; the start schedule is not stored, the fixed λ_1 is."""
    s = LearnedSchedule(5, schedules.linear)
    assert set(s.state_dict()) == {"u", "log_snr_1"} and s.T == 5
    end = s.log_snr()[-1].item()
    with torch.no_grad():
        s.u.add_(1.0)
    assert s.log_snr()[-1].item() < end - 1
    fixed_end = LearnedSchedule(5, schedules.linear, learn_log_snr_end=False)
    assert set(fixed_end.state_dict()) == {"u", "log_snr_1", "log_snr_drop"}
    assert torch.allclose(torch.softmax(fixed_end.u.double(), 0), torch.diff(-log_snr(schedules.linear(5))) /
                          (log_snr(schedules.linear(5))[0] - log_snr(schedules.linear(5))[-1]), rtol=1e-6)


def test_a_schedule_given_as_a_list_is_taken_in_float64():
    s = LearnedSchedule(40, lambda T: schedules.linear(T).tolist())
    assert s.initial.dtype == torch.float64 and torch.equal(s.initial, schedules.linear(40))
    p = GaussianDiffusion(schedules.linear(1000).tolist())
    assert torch.equal(p.alpha_bar, GaussianDiffusion(schedules.linear(1000)).alpha_bar)


@pytest.mark.parametrize("beta_1", [0.0, 1.0, 1.5])
def test_a_first_step_outside_0_1_is_refused(beta_1):
    with pytest.raises(ConfigError, match=rf"schedule\.beta_1={beta_1} must lie in \(0, 1\)"):
        LearnedSchedule(10, schedules.linear, beta_1=beta_1)


@pytest.mark.parametrize("betas", [[0.1, 1e-20], [0.1, 0.1, 1e-20]])
def test_a_start_that_loses_no_signal_at_some_step_is_refused(betas):
    """β_t = 1e-20 leaves ᾱ_t = ᾱ_{t−1} in float64: λ does not decrease there, and no softplus step can say so."""
    with pytest.raises(ConfigError, match="loses no signal at some step; choose another schedule.init"):
        LearnedSchedule(len(betas), lambda T: torch.tensor(betas, dtype=torch.float64))
    LearnedSchedule(1, lambda T: torch.tensor([0.1], dtype=torch.float64))


def test_a_start_whose_step_exceeds_what_one_step_can_learn_is_refused_not_nan():
    """The steps are d_t = D·sigmoid(u_t) < D = 20 nats: a start that drops the log-SNR by more in one step has no u
    (logit ≥ 1 gave NaN before); with a fixed end point the softmax takes any share."""
    start = lambda T: torch.tensor([1e-4, 1 - 1e-6], dtype=torch.float64)  # noqa: E731  λ: 9.2 → −13.8
    with pytest.raises(ConfigError, match=r"removes 23 nats of log-SNR at step t = 2, more than the 20 one step"):
        LearnedSchedule(2, start)
    assert torch.isfinite(LearnedSchedule(2, start, learn_log_snr_end=False).betas()).all()
