"""A process that learns its schedule (learned β, the continuous process's end points) has parameters that are not
network weights: a group of their own (no weight decay, their own learning rate), their own gradient clipping, and
an EMA of their own, so that evaluation pairs the EMA network with the EMA schedule."""

import functools

import pytest
import torch

from diffusion_lightning.diffusion import schedules
from diffusion_lightning.diffusion.learned_schedule import LearnedSchedule
from diffusion_lightning.diffusion.processes import ContinuousGaussianDiffusion, GaussianDiffusion
from diffusion_lightning.errors import ConfigError
from diffusion_lightning.networks.mlp import TimeMLP
from diffusion_lightning.training.module import DiffusionModule

T = 10


def learned() -> GaussianDiffusion:
    return GaussianDiffusion(LearnedSchedule(T, schedules.linear))


def module(process, **kwargs) -> DiffusionModule:
    torch.manual_seed(0)
    net = TimeMLP(2, process.out_dim(2), T=process.T, hidden=16, layers=1)
    optimizer = functools.partial(torch.optim.AdamW, lr=1e-3, weight_decay=0.01)
    return DiffusionModule(process, net, optimizer=optimizer, **kwargs)


@pytest.mark.parametrize("make", [learned, lambda: ContinuousGaussianDiffusion(schedules.linear(T))])
@pytest.mark.parametrize("schedule_lr", [None, 0.05])
def test_the_schedule_is_a_group_of_its_own_without_weight_decay(make, schedule_lr):
    m = module(make(), schedule_lr=schedule_lr)
    net_group, schedule_group = m.configure_optimizers().param_groups
    assert net_group["weight_decay"] == 0.01 and schedule_group["weight_decay"] == 0.0
    assert net_group["lr"] == 1e-3 and schedule_group["lr"] == (1e-3 if schedule_lr is None else schedule_lr)
    assert {id(p) for p in schedule_group["params"]} == {id(p) for p in m.process.parameters()}
    assert {id(p) for p in net_group["params"]} == {id(p) for p in m.net.parameters()}


def test_a_fixed_schedule_leaves_one_group_and_no_schedule_ema():
    m = module(GaussianDiffusion(schedules.linear(T)))
    assert len(m.configure_optimizers().param_groups) == 1
    assert m.ema_process is None and m.eval_process is m.process


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_each_group_is_clipped_on_its_own(algorithm):
    """A network gradient of norm 1000 is clipped to 1 without shrinking the schedule's small gradient."""
    m = module(learned(), gradient_clip_val=1.0, gradient_clip_algorithm=algorithm)
    optimizer = m.configure_optimizers()
    for p in m.net.parameters():
        p.grad = torch.full_like(p, 1000.0)
    small = torch.full_like(m.process.schedule.u, 0.01)
    m.process.schedule.u.grad = small.clone()
    m.on_before_optimizer_step(optimizer)
    assert torch.equal(m.process.schedule.u.grad, small)
    grads = torch.cat([p.grad.flatten() for p in m.net.parameters()])
    assert (grads.norm().item() == pytest.approx(1.0, rel=1e-4)) if algorithm == "norm" else (grads.max() == 1.0)


def test_evaluation_pairs_the_ema_network_with_the_ema_schedule():
    """The schedule's EMA follows its live parameters as the network's does, with the same decay and warm-up; the
    evaluated process is the averaged one, and sampling and the bound read it."""
    m = module(learned(), ema_decay=0.9)
    start = m.process.schedule.u.detach().clone()
    net_start = [p.detach().clone() for p in m.net.parameters()]
    with torch.no_grad():
        m.process.schedule.u.add_(1.0)
        for p in m.net.parameters():
            p.add_(1.0)
    assert torch.equal(m.eval_process.schedule.u, start)  # not yet averaged
    m._update_ema()  # after step 0 the warm-up's decay is min(0.9, 1/10): 90% of the way to the live value
    assert m.eval_process is m.ema_process and not m.ema_process.schedule.u.requires_grad
    assert torch.allclose(m.eval_process.schedule.u, start + 0.9, atol=1e-6)
    assert all(torch.allclose(e, s + 0.9, atol=1e-6) for e, s in zip(m.ema.parameters(), net_start))  # the same step
    assert m.eval_process.bound(m.eval_net, torch.randn(4, 2))[0].isfinite().all()


def test_a_checkpoint_without_the_schedules_ema_continues_with_the_schedule_it_evaluated():
    """Written before the schedule had an EMA: its copy starts from the process's own parameters."""
    m = module(learned())
    with torch.no_grad():
        m.process.schedule.u.add_(0.5)
    state = {k: v for k, v in m.state_dict().items() if not k.startswith("ema_process.")}
    checkpoint = {"state_dict": state}
    fresh = module(learned())
    fresh.on_load_checkpoint(checkpoint)
    fresh.load_state_dict(checkpoint["state_dict"])
    assert torch.equal(fresh.eval_process.schedule.u, m.process.schedule.u)


@pytest.mark.parametrize("schedule_lr", [0, -1e-3, "fast"])
def test_a_schedule_lr_that_is_not_a_positive_number_is_refused_in_one_line(schedule_lr):
    with pytest.raises(ConfigError, match=rf"schedule_lr={schedule_lr} must be a number > 0, or null for the optimizer"):
        module(learned(), schedule_lr=schedule_lr)
