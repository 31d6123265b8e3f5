"""Checkpoints that survive interruption: written whole or not at all, one saved on Ctrl-C / SIGTERM, and one at
the end of training."""

import json
import os
import signal
import sys
import threading
from pathlib import Path

import lightning as L
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities.exceptions import SIGTERMException

from .files import LAST_CHECKPOINT, sidecar

INTERRUPTIONS = (KeyboardInterrupt, SIGTERMException)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Save to a temporary file, then rename: a job killed mid-write keeps its previous checkpoint intact. Beside
    each checkpoint, its sidecar (``files.sidecar``) holds its ``global_step`` and ``epoch``, also written whole or
    not at all; the old one is removed before the checkpoint is replaced, so a sidecar never describes another
    checkpoint (one killed in between has none, and its step reads as unknown)."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        super().save_checkpoint(checkpoint, tmp, storage_options)
        sidecar(path).unlink(missing_ok=True)
        os.replace(tmp, path)
        tmp = path.with_name(path.name + ".json.tmp")
        tmp.write_text(json.dumps({"global_step": checkpoint["global_step"], "epoch": checkpoint["epoch"]}))
        os.replace(tmp, sidecar(path))

    def remove_checkpoint(self, path) -> None:
        super().remove_checkpoint(path)
        sidecar(Path(path)).unlink(missing_ok=True)


class InterruptCheckpoint(L.Callback):
    """Ctrl-C or SIGTERM during training lets the running ``training_step`` call (and a validation then due)
    finish, then saves ``last.ckpt`` and stops before the next call (or at the end of training); a run resumed
    with ``ckpt_path=<run dir>/checkpoints/last.ckpt`` continues as if never stopped, validations included
    (exactly, on a CPU in one process). A second Ctrl-C stops at once and keeps the previous checkpoint; so do
    failures (e.g. divergence): a broken model never replaces the last good checkpoint. Under DDP the ranks agree
    before stopping, and a SIGTERM to the first rank reaches the others.

    It saves only where Lightning's own checkpoints are saved, so that Lightning's loop counters resume as they
    are: at the end of the call (as ``ModelCheckpoint(every_n_train_steps)`` does; the run stops at the start of
    the next call), and again when a validation follows the call, at the end of training (``should_stop`` set
    once the validation has run: Lightning then resumes past it). The first save is what a second Ctrl-C during
    that validation keeps; resumed, it skips that validation, as Lightning's own step checkpoints do."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, dirpath: str):
        self.path = Path(dirpath) / Path(LAST_CHECKPOINT).name
        self.requested: int | None = None
        self.saved = False  # at the end of the running call, after a stop was requested
        self.previous: dict[int, object] = {}
        self.trainer: L.Trainer | None = None

    def request_stop(self, signum: int, frame) -> None:
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt(f"signal {signum}, twice")
        if self.requested is None:
            print("stopping after the current training step(s), with a checkpoint; Ctrl-C again stops at once",
                  file=sys.stderr)
        self.requested = signum
        launcher = self.trainer.strategy.launcher if self.trainer is not None else None
        if signum == signal.SIGTERM and launcher is not None:
            launcher.kill(signum)  # the other DDP ranks, when this process started them

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.requested, self.saved, self.trainer = None, False, trainer
        if threading.current_thread() is threading.main_thread():
            self.previous = {signum: signal.signal(signum, self.request_stop) for signum in self.SIGNALS}

    def stop_requested(self, trainer: L.Trainer) -> bool:
        if trainer.world_size > 1:  # every rank must stop at the same call, or the others wait in a collective
            return trainer.strategy.reduce_boolean_decision(self.requested is not None, all=False)
        return self.requested is not None

    def save(self, trainer: L.Trainer) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(self.path)

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if self.stop_requested(trainer):
            self.save(trainer)
            self.saved = True

    def on_train_batch_start(self, trainer: L.Trainer, *args) -> None:
        if self.saved:  # no validation followed the call that saved
            raise KeyboardInterrupt(f"signal {self.requested}")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking and self.stop_requested(trainer):
            trainer.should_stop = True  # ends training without another validation: ``on_train_end`` saves

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Training ends here after a signal during a validation, or during the last call: the run stops."""
        self.restore_signals()
        if self.stop_requested(trainer):
            self.save(trainer)
            raise KeyboardInterrupt(f"signal {self.requested}")

    def restore_signals(self) -> None:
        """Put back the handlers this callback replaced (not Lightning's own, set while it shuts down)."""
        for signum, handler in self.previous.items():
            if signal.getsignal(signum) == self.request_stop:
                signal.signal(signum, handler)
        self.previous = {}

    def on_exception(self, *args) -> None:
        self.restore_signals()


class FinalCheckpoint(L.Callback):
    """``last.ckpt`` at the end of training, where the periodic checkpoints left it at an earlier step: the weights
    that the test then evaluates and the figures sample, which a loaded run (``inference.load_run``) reproduces."""

    def __init__(self, dirpath: str):
        self.path = Path(dirpath) / Path(LAST_CHECKPOINT).name

    def saved_step(self) -> int | None:
        try:
            return json.loads(sidecar(self.path).read_text()).get("global_step")
        except (OSError, ValueError):
            return None

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.strategy.broadcast(self.saved_step() != trainer.global_step):  # the first rank's view, for all
            trainer.save_checkpoint(self.path)


def sigterm_as_interrupt() -> None:
    """Treat SIGTERM (``kill``, a scheduler's preemption) like Ctrl-C outside ``fit``, where Lightning's own
    handler does not reach (building, testing), so the run stops the same graceful way."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, handler)
