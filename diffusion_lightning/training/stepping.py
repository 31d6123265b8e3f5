"""Several optimizer steps per ``training_step`` call (``steps_per_batch``, K): Lightning's hooks and bookkeeping
then cost once per K steps instead of once per step. This module owns K: it chooses it from the config, tells the
datamodule to stack K batches per item (``TrainingBatches``), counts the trainer's validation interval in calls,
and keeps K in the checkpoint so that a run resumes only with the K it was written with. The module just runs one
optimizer step per stacked batch; nothing else depends on K, and training is the same step for step whatever K is."""

import logging
import math

import lightning as L
from omegaconf import DictConfig

from ..errors import ConfigError

log = logging.getLogger(__name__)


def steps_per_call(cfg: DictConfig) -> int:
    """``steps_per_batch``, lowered to divide every count of steps (validation, logging, periodic checkpoints,
    max_steps) so that each one falls between calls. Refuses the trainer settings that manual optimization over
    stacked batches does not support."""
    steps, trainer = cfg.steps_per_batch, cfg.trainer
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps_per_batch={steps} must be a whole number ≥ 1; e.g. steps_per_batch=10")
    if trainer.get("gradient_clip_algorithm") not in (None, "norm", "value"):
        raise ConfigError(f"trainer.gradient_clip_algorithm={trainer.gradient_clip_algorithm} is not known; choose "
                          "norm (the default) or value")
    if trainer.get("accumulate_grad_batches", 1) != 1:
        raise ConfigError("trainer.accumulate_grad_batches is not supported; raise data.batch_size instead")
    max_steps = trainer.get("max_steps", -1)
    if trainer.get("max_epochs", -1) not in (-1, None) or not isinstance(max_steps, int) or max_steps < 1:
        raise ConfigError("training is counted in steps, not epochs: set trainer.max_steps (e.g. 20000) and leave "
                          "trainer.max_epochs=-1")
    intervals = {"trainer.val_check_interval": trainer.val_check_interval,
                 "trainer.log_every_n_steps": trainer.log_every_n_steps, "trainer.max_steps": trainer.max_steps}
    for name, callback in (cfg.get("callbacks") or {}).items():
        if callback and callback.get("every_n_train_steps"):
            intervals[f"callbacks.{name}.every_n_train_steps"] = callback.every_n_train_steps
    for key, value in intervals.items():
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key}={value} must be a whole number of optimizer steps ≥ 1; e.g. {key}=1000")
    lowered = math.gcd(steps, *intervals.values())
    if lowered < steps:
        log.info(f"steps_per_batch={steps} lowered to {lowered} to divide {', '.join(intervals)}")
    return lowered


class StepsPerCall(L.Callback):
    """K optimizer steps per ``training_step`` call: the datamodule stacks K batches per item, and a checkpoint
    resumes only under the same K (the trainer counts calls, and resumes by them)."""

    def __init__(self, steps: int):
        self.steps = steps

    def calls(self, steps: int) -> int:
        """A number of optimizer steps, as the trainer counts it (in ``training_step`` calls)."""
        return steps // self.steps

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if trainer.datamodule is not None:
            trainer.datamodule.steps_per_batch = self.steps

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint["steps_per_batch"] = self.steps

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        if trainer.state.fn != "fit":  # evaluation takes the weights only
            return
        saved = checkpoint.get("steps_per_batch")
        if saved is None:
            raise ConfigError("the checkpoint was written by a version of diffusion_lightning that took one optimizer "
                              "step per training_step; its step count cannot be resumed: start a new run")
        if saved != self.steps:
            raise ConfigError(f"the checkpoint was written with {saved} optimizer steps per training_step and this run "
                              f"takes {self.steps}: resume with the same steps_per_batch and intervals "
                              "(trainer.val_check_interval, trainer.log_every_n_steps, every_n_train_steps, max_steps)")
