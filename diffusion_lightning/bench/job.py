"""8. Where a sweep job's wall time goes: one preset-like job (``python train.py trainer.max_steps=5000
trainer.val_check_interval=1000``, without validation samples as in a sweep, W&B offline as by default) for T = 100
and T = 1000, each a fresh ``python train.py`` process timed from launch to exit.

Phases, from Lightning's public hooks (``PhaseClock``) and, for the time inside each callback, Lightning's
``SimpleProfiler``: ``startup_s`` from launch to the job's first file (``run_info.json``: interpreter, imports,
Hydra's config), ``build_s`` the rest until the model is built (data, process, network), ``logger_start_s``
the trainer and its loggers starting (W&B's init), ``train_steps_s`` the training steps alone (the
``training_step`` calls), ``loop_s`` the rest of the fit loop (batches, progress bar, checkpoints written every
1000 steps), each validation's bound (``val_bound_s``) and samples (``val_samples_s``), the test bound and samples,
``figures_s``, ``checkpoints_s`` (within the above), ``writing_s`` the run's result files, and ``finish_s`` the
loggers' finish and the process's exit. ``whole_over_train``: the whole command over its training steps."""

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import lightning as L

from ..training.files import RUN_INFO
from .common import CONF, load

ROOT = CONF.parent
SWEEP_JOB = ["callbacks.sample_metrics.val_samples=0"]  # as in a sweep's jobs: samples at the test alone
SIZES = {"full": {"T": (100, 1000), "overrides": ["trainer.max_steps=5000", "trainer.val_check_interval=1000",
                                                  *SWEEP_JOB]},
         "quick": {"T": (10, 20), "overrides": ["debug=fast", "logger=none", "data.n_train=1000",
                                                 "model.hidden=16", *SWEEP_JOB]}}


class PhaseClock(L.Callback):
    """Marks (``time.time()``) at the job's phases and the training steps' total, written to ``path`` as JSON when
    the test ends, with the seconds each callback hook took (from the trainer's ``SimpleProfiler``, if it has one)."""

    def __init__(self, path: str):
        self.path = Path(path)
        self.marks: dict[str, float] = {"built": time.time()}  # callbacks are built with the model, before the trainer
        self.train_steps_s, self.validations, self.batch_start = 0.0, [], 0.0

    def setup(self, trainer, pl_module, stage: str) -> None:
        self.marks.setdefault(f"{getattr(stage, 'value', stage)}_setup", time.time())

    def on_train_batch_start(self, *args) -> None:
        self.batch_start = time.perf_counter()

    def on_train_batch_end(self, *args) -> None:
        self.train_steps_s += time.perf_counter() - self.batch_start

    def on_validation_start(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.validations.append([time.time()])

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.validations[-1].append(time.time())

    def on_train_end(self, trainer, pl_module) -> None:
        self.marks["train_end"] = time.time()

    def on_test_start(self, trainer, pl_module) -> None:
        self.marks["test_start"] = time.time()

    def on_test_end(self, trainer, pl_module) -> None:
        self.marks["test_end"] = time.time()

    def teardown(self, trainer, pl_module, stage: str) -> None:
        self.marks[f"{getattr(stage, 'value', stage)}_teardown"] = time.time()
        if stage != "test":
            return
        hooks = {name: durations for name, durations in getattr(trainer.profiler, "recorded_durations", {}).items()
                 if name.startswith("[Callback]")}
        self.path.write_text(json.dumps({"marks": self.marks, "train_steps_s": self.train_steps_s,
                                         "validations": self.validations, "hooks": hooks,
                                         "test_bound_bits": float(trainer.callback_metrics["test/nll_bound_bits"])}))


def hook_seconds(hooks: dict[str, list[float]], callback: str, hook: str) -> list[float]:
    """Each call's seconds of ``callback``'s (a class name) ``hook``, summed over callbacks of that class."""
    calls = [d for name, d in hooks.items() if name.startswith(f"[Callback]{callback}") and name.endswith(f".{hook}")]
    return [sum(c) for c in zip(*calls)] if calls else []


def job(T: int, overrides: list[str], run_dir: Path) -> dict:
    """One ``python train.py`` job at ``T``, timed phase by phase."""
    clock = run_dir / "phases.json"
    command = [sys.executable, str(ROOT / "train.py"), f"T={T}", *overrides, f"hydra.run.dir={run_dir}",
               f"+callbacks.phase_clock._target_={__name__}.PhaseClock", f"+callbacks.phase_clock.path={clock}",
               "+trainer.profiler._target_=lightning.pytorch.profilers.SimpleProfiler",
               f"+trainer.profiler.dirpath={run_dir}", "+trainer.profiler.filename=profile"]
    run_dir.mkdir(parents=True)
    with open(run_dir / "job.out", "w") as out:
        launch = time.time()
        subprocess.run(command, cwd=run_dir, stdout=out, stderr=subprocess.STDOUT, check=True)
        end = time.time()
    phases = json.loads(clock.read_text())
    marks, hooks = phases["marks"], phases["hooks"]
    written = max(p.stat().st_mtime for p in run_dir.glob("*.json") if p.name != "phases.json")
    written = max([written, *(p.stat().st_mtime for p in run_dir.glob("*.npz"))])
    val_samples = hook_seconds(hooks, "SampleMetrics", "on_validation_epoch_end")
    validations = [b - a for a, b in phases["validations"]]
    val_samples += [0.0] * (len(validations) - len(val_samples))
    checkpoints = sum(sum(d) for name, d in hooks.items() if name.startswith("[Callback]ModelCheckpoint"))
    figures = sum(hook_seconds(hooks, "Figures", "on_test_end"))  # within the test, as the test's samples
    test_samples = sum(hook_seconds(hooks, "SampleMetrics", "on_test_epoch_end"))
    test_s = marks["test_end"] - marks["test_start"]
    fit_s = marks["train_end"] - marks["fit_setup"]
    train_s = phases["train_steps_s"]
    started = (run_dir / RUN_INFO).stat().st_mtime
    return {"bench": "job", "T": T, "wall_s": end - launch, "startup_s": started - launch,
            "build_s": marks["built"] - started, "logger_start_s": marks["fit_setup"] - marks["built"],
            "train_steps_s": train_s, "loop_s": fit_s - train_s - sum(validations),
            "val_bound_s": [round(v - s, 2) for v, s in zip(validations, val_samples)],
            "val_samples_s": [round(s, 2) for s in val_samples], "test_bound_s": test_s - test_samples - figures,
            "test_samples_s": test_samples, "figures_s": figures, "checkpoints_s": checkpoints,
            "end_s": marks["test_start"] - marks["train_end"] + marks["test_teardown"] - marks["test_end"],
            "writing_s": written - marks["test_teardown"], "finish_s": end - written,
            "whole_over_train": (end - launch) / train_s, "test_bound_bits": phases["test_bound_bits"]}


def run(size: str) -> Iterator[dict]:
    s = SIZES[size]
    with tempfile.TemporaryDirectory(prefix="bench_job_") as tmp:
        for T in s["T"]:
            yield {**job(T, s["overrides"], Path(tmp) / f"T{T}"), "load": load()}
