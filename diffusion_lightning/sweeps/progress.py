"""A Hydra callback: one line per finished job of a sweep, saying how many jobs are left and about how long they
will take.

Under the joblib launcher ``on_job_end`` runs in the worker that ran the job, so the count is read from the sweep
directory (``jobs.read_jobs``: a job with a ``summary.json`` has ended), never kept by the callback. The time left
comes from what the sweep has shown: each job takes as long as this launch's ended jobs took on average (their
``wall_time_s``); the jobs running now (started by this launch, not ended) end that long after they started, and
the jobs not started yet follow on whichever runner frees first, the one that just ended a job included. The
launch's time per ended job would count the runners' start-up and, while only the first of the jobs side by side
has ended, leave the others out: the first line said 2.5 times too much.
Importing this module loads neither torch nor Lightning."""

import heapq
import math
import statistics
import sys
import time
from pathlib import Path

from hydra.experimental.callback import Callback

from ..training.files import SUMMARY
from .jobs import HYDRA, Job, read_jobs


def duration(seconds: float) -> str:
    """``2 h 5 min``, ``3 min 12 s`` or ``45 s``."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds} s"


def started(job: Job) -> float | None:
    """When the job started: Hydra writes its ``.hydra/hydra.yaml`` then (None where there is none)."""
    path = job.path / HYDRA if job.path else None
    return path.stat().st_mtime if path is not None and path.is_file() else None


def time_left(per_job: float, running_for: list[float], queued: int) -> float:
    """Seconds until the last job left ends: the running ones ``per_job`` after they started (``running_for``
    seconds ago), then ``queued`` jobs of ``per_job`` each, every one on the runner that frees first (the one that
    just ended a job is free now)."""
    free = [0.0, *(max(0.0, per_job - age) for age in running_for)]
    heapq.heapify(free)
    for _ in range(queued):
        heapq.heapreplace(free, free[0] + per_job)
    return max(free)


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
    this_launch = [j for j in ended if (j.path / SUMMARY).stat().st_mtime >= start]
    running_for = [now - t for j in jobs if not j.summary and (t := started(j)) is not None and t >= start]
    line = f"{line}; {len(ended)} of {len(jobs)} done, {left} left"
    if left and this_launch:
        times = [t for j in this_launch if isinstance(t := j.summary.get("wall_time_s"), (int, float))]
        per_job = statistics.fmean(times) if times else (now - start) / len(this_launch)
        seconds = time_left(per_job, running_for, left - len(running_for))
        line += f", about {duration(math.ceil(seconds))} more"
    return line


class SweepProgress(Callback):
    def on_job_end(self, config, job_return, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        job_dir = Path(config.hydra.runtime.output_dir)
        if sweep_dir.is_dir() and job_dir.parent.resolve() == sweep_dir.resolve():
            print(progress_line(sweep_dir, job_dir, time.time()), file=sys.stderr, flush=True)
