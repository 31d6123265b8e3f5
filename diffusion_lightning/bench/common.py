"""What the benchmarks share: the product's config and loop, a step clock, memory figures, the machine."""

import contextlib
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from ..training.run import build

CONF = Path(__file__).resolve().parents[2] / "conf"
RUN_DIR = tempfile.TemporaryDirectory(prefix="bench_")  # paths.output_dir of every run; removed at exit
# Callbacks that evaluate or write files; a throughput measurement turns them off (progress bar stays, as users see it).
OFF_CALLBACKS = ("checkpoint", "last_checkpoint", "final_checkpoint", "figures", "sample_metrics")


def compose_cfg(*overrides: str, validation: bool = False) -> DictConfig:
    """The default config with ``overrides``, no logger, evaluating callbacks off and (unless asked) no validation."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("train", overrides=[f"paths.output_dir={RUN_DIR.name}", "logger=none", *overrides])
    with open_dict(cfg):
        for key in OFF_CALLBACKS:
            if key in (cfg.get("callbacks") or {}):
                cfg.callbacks[key] = None
        if not validation:
            cfg.trainer.limit_val_batches = 0
    return cfg


def quiet() -> None:
    """Keep only Lightning's warnings: its banners would repeat at every ``build``."""
    for name in ("lightning.pytorch", "lightning.fabric", "diffusion_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)


class StepClock(L.Callback):
    """(global step, perf_counter()) at the end of every ``training_step`` call (which runs ``steps_per_batch``
    optimizer steps)."""

    def __init__(self):
        self.marks: list[tuple[int, float]] = []

    def on_train_batch_end(self, trainer, *args) -> None:
        self.marks.append((trainer.global_step, time.perf_counter()))


def step_seconds(marks: list[tuple[int, float]], warmup: int, block: int) -> float:
    """Median over blocks of at least ``block`` steps (after ``warmup`` steps) of the time per step."""
    per_step, start = [], None
    for step, now in marks:
        if step < warmup:
            continue
        if start is None:
            start = step, now
        elif step - start[0] >= block:
            per_step.append((now - start[1]) / (step - start[0]))
            start = step, now
    return statistics.median(per_step)


def fit_steps(overrides: list[str], steps: int, warmup: int, block: int) -> dict:
    """Train ``steps`` steps with the product's own loop (``build`` + ``trainer.fit``): the median step time, the
    process's peak resident memory (meaningful in a fresh process, see ``scaling``), and the peak resident memory
    during the fit above the resident memory just before it (Linux only: None elsewhere)."""
    quiet()
    cfg = compose_cfg(*overrides, f"trainer.max_steps={steps}")
    datamodule, module, trainer = build(cfg)
    clock = StepClock()
    trainer.callbacks.append(clock)
    before = start_peak_window()
    with contextlib.redirect_stdout(sys.stderr):  # Lightning's progress bar, also in a spawned process
        trainer.fit(module, datamodule=datamodule)
    return {"step_ms": 1e3 * step_seconds(clock.marks, warmup, block), "peak_rss_mb": peak_rss_mb(),
            "fit_peak_growth_mb": status_mb("VmHWM") - before if before is not None else None}


def status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (Linux), in MiB."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def start_peak_window() -> float | None:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS and return that RSS in MiB; None where
    /proc/self/clear_refs is not available (not Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return status_mb("VmRSS")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss: monotonic, in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> list[float]:
    """The 1, 5 and 15-minute load averages: how busy the machine was."""
    return [round(x, 2) for x in os.getloadavg()]


def rounded(record: dict) -> dict:
    """A measurement with its floats to 4 significant digits."""
    return {k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in record.items()}


def machine() -> dict:
    """What the figures depend on: CPU, cores, threads, versions and the OpenMP wait policy."""
    import lightning
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown") if Path("/proc/cpuinfo").exists() else "unknown"
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "lightning": lightning.__version__, "python": sys.version.split()[0],
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}
