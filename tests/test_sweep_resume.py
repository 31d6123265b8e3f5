"""Resuming a sweep cut short (``resume_sweep=true``): a finished job is kept, a killed one resumes from its periodic
last.ckpt and ends where the same job run uninterrupted ends, a failed and a missing one run from the start; a sweep
directory that does not exist, or whose jobs another command made, is refused in one line."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode

from diffusion_lightning.sweeps.jobs import read_jobs
from diffusion_lightning.sweeps.resume import ResumeSweep
from diffusion_lightning.sweeps.resume import resumable
from diffusion_lightning.training.run import task

ROOT = Path(__file__).resolve().parents[1]
KILLED_AT = 50  # between two validations: its periodic last.ckpt (debug=fast: every 10 steps) is written by then
RUN = ["debug=fast", "T=10", "logger=none", "callbacks.figures=null", "callbacks.sample_metrics.n_samples=64",
       "model.hidden=64", f"+callbacks.kill={{_target_:tests.kill_switch.KillJob,job:2,step:{KILLED_AT}}}",
       "trainer.max_steps=200", "trainer.val_check_interval=100"]
# Jobs 0, 2 and 3 are one configuration, so job 0 is the uninterrupted run that the others must end equal to;
# job 1 fails when it builds its data; job 2 is killed at step 50 of its first launch (tests/kill_switch.py).
GRID = [*RUN, "data.noise=0.5,-1,0.5,0.5"]
ENV = {**os.environ, "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1"}


def command(sweep_dir: Path, *overrides: str) -> list[str]:
    """The sweep with Hydra's basic launcher: its jobs one after another in the sweep's own process."""
    return [sys.executable, str(ROOT / "train.py"), "-m", f"hydra.sweep.dir={sweep_dir}", "hydra/launcher=basic",
            *overrides]


@pytest.fixture(scope="module")
def cut_short(tmp_path_factory) -> Path:
    """The grid, killed (SIGKILL: no chance to save or write a summary) while job 2 trains, at step 50, after its
    last.ckpt of that step: job 0 finished, job 1 failed, job 2 killed, job 3 never started."""
    sweep_dir = tmp_path_factory.mktemp("resume") / "sweep"
    sweep = subprocess.run(command(sweep_dir, *GRID), cwd=sweep_dir.parent, env=ENV, capture_output=True, text=True,
                           timeout=300, check=False)
    assert sweep.returncode == -signal.SIGKILL, sweep.stderr[-2000:]
    return sweep_dir


def test_a_resumed_sweep_keeps_finished_jobs_resumes_killed_ones_and_reruns_the_rest(cut_short):
    jobs = read_jobs(cut_short)
    assert [job.status for job in jobs] == ["finished", "failed", "interrupted", "missing"]
    assert torch.load(jobs[2].last_checkpoint, weights_only=True)["global_step"] == KILLED_AT
    assert jobs[2].checkpoint_step == KILLED_AT  # from the last.json beside it
    assert jobs[2].note == f"killed: no summary.json, last.ckpt at step {KILLED_AT}"
    started = {job.num: (job.path / "run_info.json").stat().st_mtime_ns for job in jobs[:2]}

    result = subprocess.run(command(cut_short, *GRID, "resume_sweep=true"), cwd=cut_short.parent, env=ENV,
                            capture_output=True, text=True, timeout=600, check=False)
    output = result.stdout + result.stderr
    assert (f"resume_sweep: 4 jobs in {cut_short}: 1 kept (finished), 1 resumed from their last.ckpt, 2 rerun from "
            "the start") in output
    assert f"resume_sweep: job 2 was interrupted: resuming from its last.ckpt at step {KILLED_AT}" in output
    assert result.returncode == 1 and "1 job(s) of the sweep" in result.stderr  # job 1 fails again
    jobs = read_jobs(cut_short)
    assert [job.status for job in jobs] == ["finished", "failed", "finished", "finished"]
    assert (jobs[0].path / "run_info.json").stat().st_mtime_ns == started[0]  # kept: not run again
    assert (jobs[1].path / "run_info.json").stat().st_mtime_ns != started[1]  # failed: run again
    for job in jobs[2:]:  # resumed, and run from the start: both end where job 0 ended
        assert job.summary["step"] == 200
        assert job.value("test/nll_bound_bits") == pytest.approx(jobs[0].value("test/nll_bound_bits"), abs=1e-6)
        assert [v["step"] for v in job.curves["val"]] == [100, 200]
        assert sorted(p.name for p in (job.path / "checkpoints").iterdir()) == ["best.ckpt", "best.json", "last.ckpt",
                                                                               "last.json"]
        assert job.checkpoint_step == 200


def test_a_kept_job_returns_its_recorded_result_to_the_sweeper(cut_short, make_cfg):
    """Without running again: a rerun of this configuration would return the same number (training is
    deterministic), but rewrite the job's files."""
    job = read_jobs(cut_short)[0]
    written = {p: p.stat().st_mtime_ns for p in job.path.rglob("*") if p.is_file()}
    handler = signal.getsignal(signal.SIGTERM)
    try:
        value = resumable(task)(make_cfg(*RUN, "data.noise=0.5", "resume_sweep=true", f"paths.output_dir='{job.path}'"))
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert value == job.summary["val/nll_bound_bits"]
    assert {p: p.stat().st_mtime_ns for p in job.path.rglob("*") if p.is_file()} == written


def multirun_config(sweep_dir: Path, *overrides: str):
    """The config a ``-m`` launch composes (compose() itself refuses sweeps)."""
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        return GlobalHydra.instance().hydra.compose_config(
            "train", [f"hydra.sweep.dir={sweep_dir}", "resume_sweep=true", *overrides], run_mode=RunMode.MULTIRUN)


@pytest.mark.parametrize("overrides, reason", [
    ([*RUN, "data.noise=0.5,-1,0.5,0.3"],
     "made by another command; overrides then, not now: none; now, not then: data.noise=0.3"),
    ([*RUN[:-1], "data.noise=0.5,-1,0.5,0.5"],
     "overrides then, not now: trainer.val_check_interval=100; now, not then: none"),
    ([*RUN, "data.noise=0.5,-1"], "has 4 jobs, and these overrides make 2"),
    ([*RUN, "data.noise=-1,0.5,0.5,0.5"], "the same overrides in another order"),
    ([*RUN, "optimizer.lr=interval(1e-4,1e-2)", "hydra/sweeper=optuna"],
     "an Optuna search continues from its storage"),
])
def test_a_sweep_made_by_another_command_is_refused_saying_what_differs(cut_short, capsys, overrides, reason):
    with pytest.raises(SystemExit) as stop:
        ResumeSweep().on_multirun_start(multirun_config(cut_short, *overrides))
    err = capsys.readouterr().err
    assert stop.value.code == 1 and err.startswith("error: resume_sweep=true") and err.count("\n") == 1
    assert reason in err


def test_the_same_overrides_in_another_order_resume(cut_short, capsys):
    ResumeSweep().on_multirun_start(multirun_config(cut_short, *reversed(GRID)))
    assert capsys.readouterr().err == ""


def test_resuming_a_sweep_that_does_not_exist_is_refused_in_one_line(tmp_path):
    result = subprocess.run(command(tmp_path / "nowhere", *RUN, "seed=0,1", "resume_sweep=true"), cwd=tmp_path,
                            env=ENV, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (f"error: resume_sweep=true: there is no sweep directory "
                                                      f"{tmp_path / 'nowhere'}; name the sweep with hydra.sweep.dir=")
    assert not (tmp_path / "nowhere").exists()
