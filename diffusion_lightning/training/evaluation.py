"""The evaluation draws a run must be able to repeat: the bound of a split, batch by batch, each batch's x_t (and t)
drawn from its own seed, ``eval_seed`` + the batch's index; and samples drawn from one seed. The module's validation
and test, the figures, and a loaded run (``inference.load_run``) all call these, so that they give the same numbers
bit for bit on the same device."""

import torch
from torch import nn

from ..data.batches import TensorBatches
from ..diffusion.processes.base import DiffusionProcess


def batch_bound(process: DiffusionProcess, net: nn.Module, x0: torch.Tensor, seed: int,
                strata: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The bound of one batch in bits, per point and per t (``DiffusionProcess.bound``), its x_t drawn from
    ``seed``: exact over t, or estimated over ``strata``."""
    generator = torch.Generator(device=x0.device).manual_seed(seed)
    return process.bound(net, x0, generator=generator, strata=strata)


def split_bound(process: DiffusionProcess, net: nn.Module, x: torch.Tensor, eval_seed: int,
                batch_size: int) -> torch.Tensor:
    """Each point's exact bound in bits (float64), ``batch_size`` points at a time, batch i drawn from
    ``eval_seed + i``: what the test of a run whose ``data.eval_batch_size`` is ``batch_size`` computes."""
    batches = TensorBatches(x, batch_size)
    return torch.cat([batch_bound(process, net, batch, eval_seed + i)[0] for i, batch in enumerate(batches)])


def seeded_samples(process: DiffusionProcess, net: nn.Module, shape: tuple[int, ...], seed: int,
                   device: torch.device, record: tuple[int, ...] = ()) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """Ancestral samples drawn from ``seed`` on ``device`` (where the process and the network are), with x_t at the
    steps in ``record``."""
    generator = torch.Generator(device=device).manual_seed(seed)
    return process.sample(net, shape, record=record, generator=generator)
