"""A sweep as a user starts it (`python train.py -m ...`, no launcher chosen) runs its jobs in parallel across the
cores, one torch thread each, and says after each job how many are left and about how long they will take."""

import json
import os
import re
import subprocess
import sys

import yaml

from diffusion_lightning.sweeps.progress import duration

from .conftest import ROOT, TINY


def test_durations_read_as_a_person_says_them():
    assert [duration(s) for s in (4.4, 75, 3600 + 125)] == ["4 s", "1 min 15 s", "1 h 2 min"]


def test_a_sweep_runs_its_jobs_side_by_side_and_counts_down(tmp_path):
    sweep_dir = tmp_path / "seeds"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # the launcher sets the threads
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", f"hydra.sweep.dir={sweep_dir}", *TINY,
                             "logger=none", "callbacks.figures=null", "seed=0,1,2"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600, env={**env, "WANDB_SILENT": "true"})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("sweep: job ")]
    assert len(lines) == 3, result.stderr[-2000:]
    counts = sorted(re.search(r"(\d) of 3 done, (\d) left", line).groups() for line in lines)
    assert counts == [("1", "2"), ("2", "1"), ("3", "0")]
    assert all(re.search(r"finished in \d+ s", line) for line in lines)
    assert sum("more" in line for line in lines) == 2  # a time left while jobs are left
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    infos = [json.loads((job / "run_info.json").read_text()) for job in jobs]
    assert [info["torch_threads"] for info in infos] == [1, 1, 1]  # cores / n_jobs, n_jobs = every core
    launcher = yaml.safe_load((sweep_dir / "multirun.yaml").read_text())["hydra"]["launcher"]
    assert launcher["_target_"].endswith("JoblibLauncher") and launcher["n_jobs"] == -1  # a job per core at once
