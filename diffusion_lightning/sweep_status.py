"""A Hydra callback: after a sweep, name the jobs that did not finish and exit non-zero if there are any.

Failed jobs return NaN instead of raising (see ``train.task``) so that the rest of the sweep runs; this is where
the sweep as a whole still reports failure."""

import json
import sys
from pathlib import Path

from hydra.experimental.callback import Callback


def job_statuses(sweep_dir: Path) -> dict[str, str]:
    """Each job directory's status from its summary.json ("missing" when it wrote none)."""
    statuses = {}
    for job in sorted(p for p in sweep_dir.iterdir() if p.is_dir() and (p / ".hydra").is_dir()):
        summary = job / "summary.json"
        statuses[job.name] = json.loads(summary.read_text()).get("status", "missing") if summary.is_file() else "missing"
    return statuses


class FailedJobs(Callback):
    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        bad = {job: status for job, status in job_statuses(sweep_dir).items() if status != "finished"}
        if bad:
            listing = ", ".join(f"{job} ({status})" for job, status in bad.items())
            print(f"error: {len(bad)} job(s) of the sweep in {sweep_dir} did not finish: {listing}", file=sys.stderr)
            sys.exit(1)
