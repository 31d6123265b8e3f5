"""A sweep cut short at a known point, for tests: ``+callbacks.kill={_target_:tests.kill_switch.KillJob,job:2,
step:100}`` SIGKILLs the process that runs job 2 of a sweep (with the basic launcher, the sweep itself) at its first
training call from step 100 on, when the job started from scratch (a job resumed from a checkpoint runs through): as
a scheduler's hard kill, with no chance to save or to write a summary. The checkpoints due at that step are written by
then (at the end of the call that reached it)."""

import os
import signal

import lightning as L
from hydra.core.hydra_config import HydraConfig


class KillJob(L.Callback):
    def __init__(self, job: int, step: int):
        self.job, self.step, self.armed = job, step, False

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.armed = HydraConfig.get().job.num == self.job and trainer.global_step < self.step

    def on_train_batch_start(self, trainer: L.Trainer, *args) -> None:
        if self.armed and trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)
