"""Checkpoints that survive interruption: written whole or not at all, and one saved on Ctrl-C / SIGTERM."""

import os
import signal
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
    """On Ctrl-C or SIGTERM (Lightning stops at the end of the batch) save ``last.ckpt`` at the step reached, to
    resume from with ``ckpt_path=<run dir>/checkpoints/last.ckpt``. Other failures (e.g. divergence) save nothing,
    so a broken model never replaces the last good checkpoint."""

    def __init__(self, dirpath: str):
        self.path = Path(dirpath) / "last.ckpt"

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, INTERRUPTIONS) and trainer.state.fn == "fit":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            trainer.save_checkpoint(self.path)


def sigterm_as_interrupt() -> None:
    """Treat SIGTERM (``kill``, a scheduler's preemption) like Ctrl-C outside ``fit``, where Lightning's own
    handler does not reach (building, testing), so the run stops the same graceful way."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, handler)
