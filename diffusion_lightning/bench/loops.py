"""The loops the product is measured against, and the callback that runs them side by side with ``trainer.fit``."""

import copy
import statistics
import time
from collections.abc import Callable

import lightning as L
import torch

from ..data.batches import TrainingBatches
from ..training.ema import update_ema
from ..diffusion.processes.base import chunks_of_t
from ..training.run import build
from .common import compose_cfg


class BareLoop:
    """A hand-written PyTorch loop with a copy of the module's process (its loss and sampler of t), a copy of its
    network (same class, size and initial weights), its optimizer and LR schedule, the trainer's gradient clipping
    and the same EMA; batches sliced from the same in-memory training tensor."""

    def __init__(self, cfg, datamodule, module):
        self.process = copy.deepcopy(module.process)
        self.net = copy.deepcopy(module.net)
        self.ema = copy.deepcopy(self.net).requires_grad_(False) if module.ema is not None else None
        self.ema_decay, self.clip = module.ema_decay, cfg.trainer.gradient_clip_val
        self.optimizer = module.optimizer_factory(self.net.parameters())
        factory = module.lr_scheduler_factory
        self.scheduler = factory(self.optimizer, total_steps=cfg.trainer.max_steps) if factory else None
        self.batches = TrainingBatches(datamodule.splits["train"], datamodule.batch_size, seed=cfg.seed)
        self.steps = 0

    def backward(self, x0: torch.Tensor) -> None:
        """The product's training loss: one random t per example."""
        self.process.training_losses(self.net, x0)["loss"].backward()

    def run(self, n: int) -> float:
        """``n`` training steps; returns seconds per step."""
        params = list(self.net.parameters())
        ema = list(self.ema.parameters()) if self.ema is not None else []
        start = time.perf_counter()
        for _ in range(n):
            self.optimizer.zero_grad()
            self.backward(self.batches.batch(self.steps))
            if self.clip:
                torch.nn.utils.clip_grad_norm_(params, self.clip)
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            self.steps += 1
            if ema:
                update_ema(ema, params, self.ema_decay, self.steps)  # after step ``steps``, as the module does
        return (time.perf_counter() - start) / n


class AllStepsLoop(BareLoop):
    """The user's approach: every batch evaluates all T steps for every example, i.e. the gradient of the exact bound
    Σ_t L_{t−1} (L_T has no parameters). Done in chunks of t with gradients accumulated: the same arithmetic as one
    graph over all T, but in bounded memory (one graph runs out of memory first, as the user found)."""

    def __init__(self, cfg, datamodule, module, max_rows: int = 1 << 16):
        super().__init__(cfg, datamodule, module)
        self.max_rows = max_rows

    def backward(self, x0: torch.Tensor) -> None:
        process, n = self.process, len(x0)
        for ts in chunks_of_t(process.T, n, self.max_rows):
            x0_rep, t_rep = x0.repeat(len(ts), *([1] * (x0.ndim - 1))), ts.repeat_interleave(n)
            x_t = process.q_sample(x0_rep, t_rep)
            (process.term(self.net(x_t, t_rep), x0_rep, x_t, t_rep).sum() / n).backward()


class Interleave(L.Callback):
    """After ``warmup`` steps of the trainer, follows every ``block`` (or more) of its steps with a call of ``other``
    (which runs steps of its own and returns seconds per step); ``pairs`` holds (trainer, other) seconds per step.
    The trainer is seen between ``training_step`` calls, each of ``steps_per_batch`` optimizer steps."""

    def __init__(self, other: Callable[[], float], warmup: int, block: int):
        self.other, self.warmup, self.block = other, warmup, block
        self.pairs: list[tuple[float, float]] = []
        self.mark: tuple[int, float] | None = None

    def on_train_batch_end(self, trainer, *args) -> None:
        step = trainer.global_step
        if step < self.warmup or (self.mark is not None and step - self.mark[0] < self.block):
            return
        if self.mark is not None:
            ours = (time.perf_counter() - self.mark[1]) / (step - self.mark[0])
            self.pairs.append((ours, self.other()))
        self.mark = step, time.perf_counter()


def side_by_side(overrides: list[str], make_other: Callable, warmup: int, block: int, pairs: int) -> dict:
    """Fit the product for warmup + pairs·block steps, interleaved with the loop ``make_other(cfg, datamodule,
    module)`` (called ``other`` below; it returns a callable that runs a block and gives seconds per step).
    Returns both sides' steps per second (medians over blocks) and the median of the pairwise speed ratios."""
    cfg = compose_cfg(*overrides, f"trainer.max_steps={warmup + pairs * block}")
    datamodule, module, trainer = build(cfg)
    interleave = Interleave(make_other(cfg, datamodule, module), warmup, block)
    trainer.callbacks.append(interleave)
    trainer.fit(module, datamodule=datamodule)
    ours, other = zip(*interleave.pairs)
    return {"cfg": cfg, "steps_per_s": 1 / statistics.median(ours), "other_steps_per_s": 1 / statistics.median(other),
            "ratio": statistics.median(o / t for t, o in interleave.pairs), "pairs": len(interleave.pairs)}
