"""A sweep as a user starts it (`python train.py -m ...`, no launcher chosen) runs its jobs in parallel across the
cores, one torch thread each, and says after each job how many are left and about how long they will take."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from diffusion_lightning.sweeps.progress import duration, progress_line, time_left

from .conftest import ROOT, TINY

START = 1_000_000.0  # when the fake launch below wrote multirun.yaml (seconds since the epoch)


def test_durations_read_as_a_person_says_them():
    assert [duration(s) for s in (4.4, 75, 3600 + 125)] == ["4 s", "1 min 15 s", "1 h 2 min"]


def launch(sweep: Path, jobs: int) -> None:
    """multirun.yaml of a seed grid of ``jobs`` jobs, written at START."""
    hydra = {"runtime": {"choices": {"hydra/sweeper": "basic"}}, "sweeper": {"params": {"seed": f"range({jobs})"}},
             "overrides": {"task": []}}
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": hydra}))
    os.utime(sweep / "multirun.yaml", (START, START))


def job(sweep: Path, num: int, started: float, took: float | None = None) -> None:
    """Job ``num``: its .hydra files written at ``started`` (as Hydra does when the job starts) and, where it ended,
    a summary ``took`` seconds later that says so."""
    path = sweep / f"{num}_seed={num}"
    (path / ".hydra").mkdir(parents=True)
    for name, text in (("overrides.yaml", f"- seed={num}\n"),
                       ("hydra.yaml", yaml.safe_dump({"hydra": {"overrides": {"task": [f"seed={num}"]}}}))):
        (path / ".hydra" / name).write_text(text)
        os.utime(path / ".hydra" / name, (started, started))
    if took is not None:
        (path / "summary.json").write_text(json.dumps({"status": "finished", "wall_time_s": took}))
        os.utime(path / "summary.json", (started + took, started + took))


def test_the_first_time_left_counts_the_jobs_running_beside_it_and_not_the_start_up(tmp_path):
    """15 jobs of 40 s, two at a time, after 20 s of start-up: when the first ends, its partner is ending too and the
    13 others need 7 more rounds of 40 s. The launch's time per ended job (60 s × 14 left) said 14 min."""
    launch(tmp_path, 15)
    job(tmp_path, 0, START + 20, took=40)
    job(tmp_path, 1, START + 20)  # running beside it
    line = progress_line(tmp_path, tmp_path / "0_seed=0", now=START + 60)
    assert line == "sweep: job 0 finished in 40 s; 1 of 15 done, 14 left, about 4 min 40 s more"
    job(tmp_path, 2, START + 60)
    (tmp_path / "1_seed=1" / "summary.json").write_text(json.dumps({"status": "finished", "wall_time_s": 42}))
    line = progress_line(tmp_path, tmp_path / "1_seed=1", now=START + 62)
    # their mean, 41 s: job 2, started 2 s ago, ends in 39 s; the other 12 follow, 6 on each runner
    assert line.endswith("2 of 15 done, 13 left, about 4 min 45 s more")


def test_the_time_left_puts_each_queued_job_on_the_runner_that_frees_first():
    assert time_left(100, [90], queued=0) == 10  # the last job, nearly done
    assert time_left(100, [130], queued=0) == 0  # running longer than the mean: about to end
    assert time_left(100, [50, 0], queued=2) == 150  # two runners free at 0 and 50, the third at 100
    assert time_left(100, [], queued=3) == 300  # one after another


def test_jobs_one_after_another_and_a_resumed_sweeps_old_jobs(tmp_path):
    """With nothing beside it each job left is a round of its own; jobs that ended or were killed before this launch
    (a resumed sweep) count neither as its time per job nor as running."""
    launch(tmp_path, 5)
    job(tmp_path, 0, START - 500, took=200)  # kept from an earlier launch
    job(tmp_path, 1, START - 300)  # killed in an earlier launch, not restarted yet
    job(tmp_path, 2, START + 5, took=30)
    line = progress_line(tmp_path, tmp_path / "2_seed=2", now=START + 35)
    assert line.endswith("2 of 5 done, 3 left, about 1 min 30 s more")


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
