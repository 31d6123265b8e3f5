"""A Hydra callback: one line per finished job of a sweep, saying how many jobs are left and about how long they
will take.

Under the joblib launcher ``on_job_end`` runs in the worker that ran the job, so the count is read from the sweep
directory (``jobs.read_jobs``: a job with a ``summary.json`` has ended), never kept by the callback. The time left
is the jobs left times the launch's time per ended job (its jobs running side by side included): the time since
this launch wrote ``multirun.yaml`` over the jobs that ended since (jobs kept by ``resume_sweep`` ended before).
Importing this module loads neither torch nor Lightning."""

import math
import sys
import time
from pathlib import Path

from hydra.experimental.callback import Callback

from ..training.files import SUMMARY
from .jobs import read_jobs


def duration(seconds: float) -> str:
    """``2 h 5 min``, ``3 min 12 s`` or ``45 s``."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds} s"


def progress_line(sweep_dir: Path, job_dir: Path, now: float) -> str:
    """What one line says once the job in ``job_dir`` has ended: with the jobs left where the sweep's jobs are known
    in advance (a grid of Hydra's basic sweeper), else only how many ended (Optuna, a shuffled grid)."""
    jobs = read_jobs(sweep_dir)
    ended = [job for job in jobs if job.summary]
    job = next((j for j in jobs if j.path and j.path.resolve() == job_dir.resolve()), None)
    status = job.status if job else "ended"
    took = job.summary.get("wall_time_s") if job else None
    line = f"sweep: job {job_dir.name.split('_', 1)[0]} {status}" + (f" in {duration(took)}" if took else "")
    if jobs.grid is None:
        return f"{line}; {len(ended)} ended"
    left = len(jobs) - len(ended)
    start = (sweep_dir / "multirun.yaml").stat().st_mtime
    this_launch = sum((j.path / SUMMARY).stat().st_mtime >= start for j in ended)
    line = f"{line}; {len(ended)} of {len(jobs)} done, {left} left"
    if left and this_launch:
        line += f", about {duration(math.ceil((now - start) / this_launch * left))} more"
    return line


class SweepProgress(Callback):
    def on_job_end(self, config, job_return, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        job_dir = Path(config.hydra.runtime.output_dir)
        if sweep_dir.is_dir() and job_dir.parent.resolve() == sweep_dir.resolve():
            print(progress_line(sweep_dir, job_dir, time.time()), file=sys.stderr, flush=True)
