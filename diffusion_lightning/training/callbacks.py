"""Callbacks that draw samples and figures and hand them to whatever loggers are configured."""

import hashlib
import logging
import math
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from matplotlib.figure import Figure

from ..errors import ConfigError, check_number
from . import plotting
from .environment import in_multirun
from .evaluation import seeded_samples
from .files import written_whole


log = logging.getLogger(__name__)
N_FRAMES = 10  # frames of the forward and reverse processes in the figures, by default


def frame_steps(T: int, n_frames: int = N_FRAMES) -> tuple[int, ...]:
    """The steps the figures show: ``n_frames`` evenly spaced t, and T."""
    return tuple(sorted({round(i * T / n_frames) for i in range(n_frames)} | {T}))


def fingerprint(*modules: torch.nn.Module) -> str:
    """A digest of the modules' weights and buffers: samples are a function of these, the seed and the shape."""
    digest = hashlib.sha1()
    for module in modules:
        for value in module.state_dict().values():
            digest.update(value.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def draw_samples(pl_module, shape: tuple[int, ...], seed: int, record: tuple[int, ...] = ()):
    """Samples from the evaluated (EMA) reverse process, reproducible from ``seed``, with x_t at the steps in
    ``record``. The last draw is kept (``pl_module.last_draw``) with what it is a function of, so that the test's
    sample metrics and the figures share one draw (same weights, seed and number, and the figures' frames, which the
    test's draw records), instead of sampling all T steps twice."""
    key = (fingerprint(pl_module.eval_net, pl_module.eval_process), tuple(shape), seed)
    last = getattr(pl_module, "last_draw", None)
    if last is not None and last[0] == key and set(record) <= last[2].keys():
        return last[1], last[2]
    samples, frames = seeded_samples(pl_module.eval_process, pl_module.eval_net, shape, seed, pl_module.device, record)
    pl_module.last_draw = (key, samples, frames)
    return samples, frames


class SampleMetrics(L.Callback):
    """Samples scored by the datamodule (``samples/*``): ``n_samples`` at test, ``val_samples`` at every validation
    (0: none, the test's samples alone; None: none in a sweep's jobs, whose samples are looked at once, at the end,
    and in a single run as many as cost what ``n_samples`` cost at T = 100, ``n_samples``·100/T, at least
    ``MIN_VAL_SAMPLES``: a validation's cost does not grow with T, and a fraction's standard error over n samples
    is at most 0.5/√n)."""

    MIN_VAL_SAMPLES = 200

    def __init__(self, n_samples: int = 2000, seed: int = 4321, val_samples: int | None = None):
        self.n_samples, self.seed, self.val_samples = n_samples, seed, val_samples
        if n_samples < 2:  # the energy distance compares pairs of samples
            raise ConfigError(f"callbacks.sample_metrics.n_samples={n_samples} must be ≥ 2; "
                              "callbacks.sample_metrics=null turns the sample metrics off")
        if val_samples is not None and (val_samples < 0 or val_samples == 1):
            raise ConfigError(f"callbacks.sample_metrics.val_samples={self.val_samples} must be 0 (none) or ≥ 2")

    def _score(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str, n: int) -> None:
        dm = trainer.datamodule
        record = frame_steps(pl_module.process.T) if split == "test" else ()  # the default figures' frames
        samples, _ = draw_samples(pl_module, (n, *dm.shape), self.seed, record)
        pl_module.log_dict({f"samples/{k}": v for k, v in dm.sample_metrics(samples.cpu(), split).items()})

    def samples_per_validation(self, T: int) -> int:
        if self.val_samples is not None:
            return self.val_samples
        if in_multirun():
            return 0
        return min(self.n_samples, max(self.MIN_VAL_SAMPLES, self.n_samples * 100 // T))

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        n = self.samples_per_validation(pl_module.process.T)
        if not trainer.sanity_checking and n > 0:
            self._score(trainer, pl_module, "val", n)

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self._score(trainer, pl_module, "test", self.n_samples)


class Figures(L.Callback):
    """At the end of the run (after the test, whose exact bound per t they show): forward process q(x_t) and
    reverse trajectory at ``n_frames`` evenly spaced t, samples against held-out data, training curves and the bound
    per t; PNGs in ``dirpath``, and to the loggers."""

    def __init__(self, dirpath: str, n_frames: int = N_FRAMES, n_samples: int = 2000, seed: int = 4321):
        check_number("callbacks.figures.n_frames", n_frames, "≥ 1", whole=True)
        check_number("callbacks.figures.n_samples", n_samples, "≥ 1", whole=True)
        self.dirpath, self.n_frames, self.n_samples, self.seed = Path(dirpath), n_frames, n_samples, seed

    def figures(self, trainer: L.Trainer, pl_module) -> dict[str, Figure]:
        dm, process = trainer.datamodule, pl_module.eval_process
        figures = self.point_figures(dm, pl_module) if dm.kind == "binary" or dm.shape == (2,) else {}
        if not figures:
            log.info(f"figures: the data has {math.prod(dm.shape)} coordinates; forward_process, reverse_process and "
                     "samples are drawn for 2-D points only (curves and bound_per_t are drawn)")
        figures["curves"] = plotting.curves_figure(pl_module.history, pl_module.val_history)
        if pl_module.per_t_bits is not None:
            figures["bound_per_t"] = plotting.bound_per_t_figure(pl_module.per_t_bits)
        if getattr(process, "schedule", None) is not None:  # a learned schedule, against where it started
            figures["schedule"] = plotting.schedule_figure(process.schedule.initial, process.schedule.betas().detach())
        return figures

    def point_figures(self, dm, pl_module) -> dict[str, Figure]:
        """The forward and reverse processes and the samples over held-out data, in the data's own units (for 2-D
        points, the frame around ±2.5 standard deviations of what the model sees)."""
        process, device = pl_module.eval_process, pl_module.device
        steps = frame_steps(process.T, self.n_frames)
        data = dm.splits["val"][: self.n_samples].to(device)
        generator = torch.Generator(device=device).manual_seed(self.seed)
        forward = {t: data if t == 0 else process.q_sample(data, torch.full((len(data),), t, device=device),
                                                            generator=generator) for t in steps}
        samples, reverse = draw_samples(pl_module, (self.n_samples, *dm.shape), self.seed, record=steps)
        limits = None if dm.kind == "binary" else dm.to_data(torch.tensor([[-2.5, -2.5], [2.5, 2.5]])).T.tolist()
        return {
            "forward_process": plotting.frames_figure({t: dm.to_data(x) for t, x in forward.items()}, dm.kind, "q",
                                                      limits),
            "reverse_process": plotting.frames_figure({t: dm.to_data(x) for t, x in reverse.items()}, dm.kind, "p",
                                                      limits),
            "samples": plotting.samples_figure(dm.to_data(samples), dm.to_data(data), dm.kind),
        }

    def on_test_end(self, trainer: L.Trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        self.dirpath.mkdir(parents=True, exist_ok=True)
        figures = self.figures(trainer, pl_module)
        if "samples" in figures:
            self.save_points(trainer.datamodule, pl_module)
        for name, fig in figures.items():
            path = self.dirpath / f"{name}.png"
            with written_whole(path) as tmp:
                fig.savefig(tmp, dpi=110)
            for logger in trainer.loggers:
                if isinstance(logger, WandbLogger):
                    logger.log_image(key=f"figures/{name}", images=[str(path)], step=trainer.global_step)
                elif isinstance(logger, TensorBoardLogger):
                    logger.experiment.add_figure(f"figures/{name}", fig, trainer.global_step)

    def save_points(self, dm, pl_module) -> None:
        """``samples.npz``: the samples figure's points, ``samples`` and the held-out ``data``, in the data's units,
        for pictures drawn from several runs (docs/scripts/pictures.py); written whole or not at all."""
        samples, _ = draw_samples(pl_module, (self.n_samples, *dm.shape), self.seed)  # the figures' draw, kept
        data = dm.splits["val"][: self.n_samples]
        with written_whole(self.dirpath / "samples.npz") as tmp:
            np.savez(tmp, samples=dm.to_data(samples).cpu().numpy(), data=dm.to_data(data).cpu().numpy())


class StepProgressBar(TQDMProgressBar):
    """Lightning's progress bar, counted in optimizer steps up to ``max_steps``: the training stream has no epochs,
    and one ``training_step`` call runs several steps. ``refresh_rate`` is in steps."""

    def __init__(self, refresh_rate: int = 1, **kwargs):
        check_number("callbacks.progress_bar.refresh_rate", refresh_rate, "≥ 0", whole=True, hint="0 hides the bar")
        super().__init__(refresh_rate, **kwargs)
        self._shown = 0  # the step the bar shows

    def on_train_start(self, trainer: L.Trainer, *_) -> None:
        super().on_train_start(trainer)
        self._count_steps(trainer)

    def on_train_epoch_start(self, trainer: L.Trainer, *_) -> None:  # not called when resuming mid-epoch
        super().on_train_epoch_start(trainer)
        self._count_steps(trainer)

    def _count_steps(self, trainer: L.Trainer) -> None:
        bar = self.train_progress_bar
        bar.total = trainer.max_steps if trainer.max_steps > 0 else None
        bar.initial = bar.n = self._shown = trainer.global_step
        bar.set_description("Training")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        step, bar = trainer.global_step, self.train_progress_bar
        if self.is_enabled and (step - self._shown >= self.refresh_rate or step == bar.total):
            self._shown = bar.n = step
            bar.set_postfix(self.get_metrics(trainer, pl_module))
