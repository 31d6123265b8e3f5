"""The run record of a job's offline W&B run, read by W&B's own reader of its ``.wandb`` log (``wandb leet inspect
--json``, one JSON object per record) instead of by hand."""

import json
import subprocess
import sys
from pathlib import Path


def offline_run(job_dir: Path) -> dict:
    """The ``run`` record (``display_name``, ``run_group``, ``job_type``, ...) of the one offline run under
    ``job_dir/wandb``."""
    logs = list((job_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(logs) == 1, f"{job_dir.name}: one offline W&B run expected, found {len(logs)}"
    printed = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(logs[0])],
                             capture_output=True, text=True, timeout=120, check=True).stdout
    records = [json.loads(line) for line in printed.splitlines() if line.strip()]
    runs = [record["run"] for record in records if record["type"] == "run"]
    assert runs, f"{logs[0]}: no run record among {len(records)} records"
    return runs[0]
