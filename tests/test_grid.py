"""The jobs of a grid sweep as the project lists them (``sweeps/grid.py``: the report's never-started jobs, the
end-of-sweep status, resume_sweep=true) against the jobs Hydra itself launches, on a grid with a preset's params, a
range, a choice that replaces the preset's and a glob over a config group."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from diffusion_lightning.sweeps.grid import grid_jobs
from diffusion_lightning.sweeps.jobs import job_number, read_jobs

from .conftest import ROOT

GRID = ["sweep=swissroll_schedules", "seed=range(0,3)", "schedule=linear,cosine", "optimizer=glob(sgd*)"]


@pytest.fixture(scope="module")
def launched(tmp_path_factory) -> Path:
    """``python tests/empty_jobs.py -m GRID``: Hydra's basic sweeper over the project's configs, jobs that train
    nothing; its end-of-sweep status (which lists the grid, glob included, inside Hydra) finds every job finished."""
    sweep_dir = tmp_path_factory.mktemp("grid") / "sweep"
    command = [sys.executable, str(ROOT / "tests" / "empty_jobs.py"), "-m", f"hydra.sweep.dir={sweep_dir}",
               "hydra/launcher=basic", *GRID]
    result = subprocess.run(command, cwd=sweep_dir.parent, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0 and "did not finish" not in result.stderr, result.stderr[-2000:]
    return sweep_dir


def hydras_jobs(sweep_dir: Path) -> list[list[str]]:
    """Each job's overrides as Hydra recorded them, in job-number order."""
    dirs = sorted((p for p in sweep_dir.iterdir() if job_number(p) is not None), key=job_number)
    return [yaml.safe_load((d / ".hydra" / "overrides.yaml").read_text()) for d in dirs]


def test_the_grid_is_the_job_list_hydra_launches(launched):
    jobs = hydras_jobs(launched)
    assert len(jobs) == 2 * 3 * 2 and jobs[0] == ["schedule=linear", "sweep=swissroll_schedules", "seed=0",
                                                 "optimizer=sgd"]
    assert {o for job in jobs for o in job if o.startswith("optimizer=")} == {"optimizer=sgd",
                                                                              "optimizer=sgd_momentum"}
    hydra = yaml.safe_load((launched / "multirun.yaml").read_text())["hydra"]
    assert grid_jobs(hydra) == jobs  # the glob listed from the sweep's own config directory
    assert read_jobs(launched).grid == jobs


def test_a_glob_whose_config_directory_is_gone_leaves_the_grid_unknown(launched):
    hydra = yaml.safe_load((launched / "multirun.yaml").read_text())["hydra"]
    hydra["runtime"]["config_sources"] = [{"path": "/nonexistent", "schema": "file", "provider": "main"}]
    assert grid_jobs(hydra) is None
    hydra["overrides"]["task"] = [o for o in GRID if not o.startswith("optimizer=")]
    assert len(grid_jobs(hydra)) == 6


@pytest.mark.parametrize("sweeper, task", [("optuna", ["seed=0,1"]), ("basic", ["seed=shuffle(0,1)"]),
                                           ("basic", ["seed=shuffle(range(0,3))"])])
def test_another_sweeper_or_a_shuffled_grid_has_no_job_list(sweeper, task):
    """Jobs known only once they ran: an Optuna search, or a grid that Hydra launches in a random order."""
    hydra = {"runtime": {"choices": {"hydra/sweeper": sweeper}}, "sweeper": {"params": {}}, "overrides": {"task": task}}
    assert grid_jobs(hydra) is None
    hydra = {**hydra, "runtime": {"choices": {"hydra/sweeper": "basic"}}, "overrides": {"task": ["seed=0,1"]}}
    assert grid_jobs(hydra) == [["seed=0"], ["seed=1"]]
