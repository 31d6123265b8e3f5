"""A Hydra callback: after a sweep, name the jobs that did not finish and exit non-zero if there are any.

Failed jobs return None instead of raising (see ``training.run.task``) so that the rest of the sweep runs; this is where
the sweep as a whole still reports failure. Job status comes from the report's job reader, so both agree on it
(a grid job that never started is missing; one killed without a summary is interrupted; one whose summary cannot be
read is unreadable, and each such file is named in one line)."""

import sys
from pathlib import Path

from hydra.experimental.callback import Callback

from .jobs import read_jobs


class FailedJobs(Callback):
    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        jobs = read_jobs(sweep_dir)
        for line in jobs.problems:
            print(f"warning: {line}", file=sys.stderr)
        bad = [job for job in jobs if job.status != "finished"]
        if bad:
            listing = ", ".join(f"{job.name} ({job.status})" for job in bad)
            print(f"error: {len(bad)} job(s) of the sweep in {sweep_dir} did not finish: {listing}", file=sys.stderr)
            sys.exit(1)
