"""Checkpoints that survive interruption: written whole or not at all, and one saved on Ctrl-C / SIGTERM."""

import os
import signal
import threading
from pathlib import Path

import lightning as L
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities.exceptions import SIGTERMException

INTERRUPTIONS = (KeyboardInterrupt, SIGTERMException)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Save to a temporary file, then rename: a job killed mid-write keeps its previous checkpoint intact."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        super().save_checkpoint(checkpoint, tmp, storage_options)
        os.replace(tmp, path)


class InterruptCheckpoint(L.Callback):
    """Ctrl-C or SIGTERM during training lets the running ``training_step`` call (and a validation then due)
    finish, then saves ``last.ckpt`` and stops before the next call; a run resumed with
    ``ckpt_path=<run dir>/checkpoints/last.ckpt`` continues exactly as if never stopped, validations included. A
    second signal stops at once and keeps the previous checkpoint; so do failures (e.g. divergence): a broken model
    never replaces the last good checkpoint."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, dirpath: str):
        self.path = Path(dirpath) / "last.ckpt"
        self.requested: int | None = None
        self.previous: dict[int, object] = {}

    def request_stop(self, signum: int, frame) -> None:
        if self.requested is not None:
            raise KeyboardInterrupt(f"signal {signum}, twice")
        self.requested = signum

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.requested = None
        if threading.current_thread() is threading.main_thread():
            self.previous = {signum: signal.signal(signum, self.request_stop) for signum in self.SIGNALS}

    def on_train_batch_start(self, trainer: L.Trainer, *args) -> None:
        if self.requested is not None:
            # Lightning counts this call's batch as fetched; unfetched, the resumed run counts calls (and so
            # schedules validation) as this one would have.
            progress = trainer.fit_loop.epoch_loop.batch_progress
            progress.total.ready, progress.current.ready = progress.total.completed, progress.current.completed
            self.path.parent.mkdir(parents=True, exist_ok=True)
            trainer.save_checkpoint(self.path)
            raise KeyboardInterrupt(f"signal {self.requested}")

    def restore_signals(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous = {}

    def on_train_end(self, *args) -> None:
        self.restore_signals()

    def on_exception(self, *args) -> None:
        self.restore_signals()


def sigterm_as_interrupt() -> None:
    """Treat SIGTERM (``kill``, a scheduler's preemption) like Ctrl-C outside ``fit``, where Lightning's own
    handler does not reach (building, testing), so the run stops the same graceful way."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, handler)
