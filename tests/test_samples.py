"""Samples drawn at the end of a run: the test's sample metrics and the figures share one draw."""

from types import SimpleNamespace

import torch

from diffusion_lightning.diffusion import schedules
from diffusion_lightning.diffusion.processes import GaussianDiffusion
from diffusion_lightning.networks import TimeMLP
from diffusion_lightning.training.callbacks import SampleMetrics, draw_samples, frame_steps


def test_the_figures_share_the_test_draw_of_samples_and_new_weights_draw_anew():
    """``draw_samples`` keeps its last draw: asked again with the same weights, seed and number (and frames it
    recorded) it returns that draw instead of sampling all T steps again; other frames or other weights draw anew."""
    T, calls = 40, []
    process = GaussianDiffusion(schedules.linear(T))
    sample = process.sample
    process.sample = lambda *args, **kwargs: calls.append(kwargs["record"]) or sample(*args, **kwargs)
    module = SimpleNamespace(eval_net=TimeMLP(2, 4, T, hidden=8), process=process, eval_process=process,
                             device=torch.device("cpu"))
    first, frames = draw_samples(module, (50, 2), 7, record=frame_steps(T))
    again, _ = draw_samples(module, (50, 2), 7, record=(8,))
    assert again is first and len(calls) == 1 and set(frames) == set(range(0, 41, 4))
    redrawn, _ = draw_samples(module, (50, 2), 7, record=(3,))  # a frame it did not keep
    assert len(calls) == 2 and torch.equal(redrawn, first)  # the same seed, the same samples
    with torch.no_grad():
        module.eval_net.readout.bias.add_(1.0)
    moved, _ = draw_samples(module, (50, 2), 7, record=(8,))
    assert len(calls) == 3 and not torch.equal(moved, first)


def test_validation_samples_in_a_single_run_cost_what_they_cost_at_T_100():
    metrics = SampleMetrics(n_samples=2000)
    assert [metrics.samples_per_validation(T) for T in (40, 100, 500, 1000, 2000)] == [2000, 2000, 400, 200, 200]
    assert SampleMetrics(n_samples=2000, val_samples=50).samples_per_validation(1000) == 50
