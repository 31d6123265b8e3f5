"""A sweep's files as its tools read them: the JSON written beside each checkpoint (its step, read instead of the
checkpoint), and files that cannot be read, each named in one line by the report, the end-of-sweep status and
resume_sweep=true, which still report the other jobs and rewrite nothing."""

import csv
import json
import logging
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from matplotlib.figure import Figure
from omegaconf import OmegaConf

from diffusion_lightning.sweeps.jobs import read_job, read_jobs
from diffusion_lightning.sweeps.resume import KEY, RERUN, ResumeSweep, checkpoint_step, plan
from diffusion_lightning.sweeps.status import FailedJobs
from diffusion_lightning.training.checkpointing import AtomicCheckpointIO
from diffusion_lightning.training.callbacks import Figures
from diffusion_lightning.training.files import written_whole
from diffusion_lightning.sweeps.resume import resumable
from diffusion_lightning.training.run import task

from .conftest import ROOT

OLD_CHECKPOINT = ROOT / "tests" / "data" / "main_e9abe86_step10.ckpt"  # written by e9abe86, before last.json


def test_a_checkpoint_is_written_with_its_step_beside_it_and_removed_with_it(tmp_path):
    io = AtomicCheckpointIO()
    for step in (10, 20):
        io.save_checkpoint({"global_step": step, "epoch": 0, "state_dict": {}}, tmp_path / "last.ckpt")
        assert json.loads((tmp_path / "last.json").read_text()) == {"global_step": step, "epoch": 0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt", "last.json"]  # no temporary file left
    io.remove_checkpoint(tmp_path / "last.ckpt")
    assert list(tmp_path.iterdir()) == []


def test_each_checkpoint_of_a_sweep_has_its_step_beside_it(tiny_sweep):
    for job in read_jobs(tiny_sweep):
        names = {p.name for p in (job.path / "checkpoints").iterdir()}
        assert names == {"best.ckpt", "best.json", "last.ckpt", "last.json"}, (job.name, names)
        assert job.checkpoint_step == job.summary["step"] == 20  # debug=fast


def test_a_checkpoint_of_an_older_version_has_an_unknown_step_until_a_job_loads_it(tiny_sweep_copy):
    """The sweep tools never open a checkpoint; inside a job, which has loaded torch, resuming reads its step from the
    checkpoint itself (weights only)."""
    job_dir = next(p for p in tiny_sweep_copy.iterdir() if p.name.startswith("0_"))
    (job_dir / "summary.json").unlink()
    (job_dir / "checkpoints" / "last.json").unlink()
    shutil.copy(OLD_CHECKPOINT, job_dir / "checkpoints" / "last.ckpt")
    job = read_job(job_dir)
    assert (job.status, job.note, job.problems) == ("interrupted", "killed: no summary.json, last.ckpt at an unknown "
                                                    "step", [])
    assert checkpoint_step(job) == "step 10"


@pytest.fixture
def damaged(tiny_sweep_copy) -> dict[int, Path]:
    """The tiny sweep with three files cut in half, as a full disk or a copy cut short leaves them: job 1's
    summary.json, job 2's .hydra/overrides.yaml, job 3's checkpoints/last.json."""
    dirs = {int(p.name.split("_")[0]): p for p in tiny_sweep_copy.iterdir() if p.is_dir()}
    files = {1: dirs[1] / "summary.json", 2: dirs[2] / ".hydra" / "overrides.yaml",
             3: dirs[3] / "checkpoints" / "last.json"}
    for path in files.values():
        text = path.read_text()
        path.write_text(text[: len(text) // 2])
    return files


def unchanged(files: dict[int, Path], before: dict[int, bytes]) -> bool:
    return {num: path.read_bytes() for num, path in files.items()} == before


def warnings_name(lines: list[str], files: dict[int, Path]) -> bool:
    """One line per damaged file, naming it, and no other."""
    return len(lines) == len(files) and all(any(f"{path} cannot be read (" in line for line in lines)
                                            for path in files.values())


def test_the_report_names_each_damaged_file_in_one_line_and_reports_every_job(damaged):
    before = {num: path.read_bytes() for num, path in damaged.items()}
    sweep_dir = damaged[1].parent.parent
    result = subprocess.run([sys.executable, "-m", "diffusion_lightning.sweeps.report", str(sweep_dir)], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert warnings_name(lines, damaged) and all(line.startswith("warning: ") for line in lines), result.stderr
    rows = {int(r["job"].split("_")[0]): r for r in csv.DictReader((sweep_dir / "report.csv").open())}
    assert {num: r["status"] for num, r in rows.items()} == {0: "finished", 1: "unreadable", 2: "finished",
                                                             3: "finished"}
    assert rows[1]["note"].startswith("summary.json cannot be read: not JSON")
    assert (rows[2]["schedule"], rows[2]["loss"]) == ("cosine", "kl")  # as job 2's .hydra/hydra.yaml records them
    assert unchanged(damaged, before)


def test_overrides_that_no_file_of_the_job_records_are_the_grids(damaged):
    """Where neither .hydra/overrides.yaml nor .hydra/hydra.yaml can be read, multirun.yaml says what job 2 was."""
    job_dir = damaged[2].parent.parent
    (job_dir / ".hydra" / "overrides.yaml").write_text("- [")
    (job_dir / ".hydra" / "hydra.yaml").write_text("hydra: [")
    jobs = read_jobs(job_dir.parent)
    assert jobs[2].overrides == jobs.grid[2] and jobs[2].config["schedule"] == "cosine" and jobs[2].status == "finished"
    assert len(jobs.problems) == 4 and all(f"{job_dir / '.hydra' / name} cannot be read (not YAML" in "".join(
        jobs.problems) for name in ("overrides.yaml", "hydra.yaml"))


def test_the_end_of_sweep_status_names_each_damaged_file_in_one_line(damaged, capsys):
    before = {num: path.read_bytes() for num, path in damaged.items()}
    sweep_dir = damaged[1].parent.parent
    with pytest.raises(SystemExit) as stop:
        FailedJobs().on_multirun_end(SimpleNamespace(hydra=SimpleNamespace(sweep=SimpleNamespace(dir=str(sweep_dir)))))
    *warnings, error = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 1 and warnings_name(warnings, damaged)
    assert error.startswith("error: 1 job(s) of the sweep") and f"{damaged[1].parent.name} (unreadable)" in error
    assert unchanged(damaged, before)


def test_resume_sweep_names_each_damaged_file_and_leaves_an_unreadable_summary_as_it_is(damaged, caplog, make_cfg):
    before = {num: path.read_bytes() for num, path in damaged.items()}
    sweep_dir = damaged[1].parent.parent
    config = OmegaConf.load(sweep_dir / "multirun.yaml")  # the config that the same command composes again
    config.resume_sweep = True
    config.hydra.sweep.dir = str(sweep_dir)
    caplog.set_level(logging.INFO, logger="diffusion_lightning.sweeps.resume")
    ResumeSweep().on_multirun_start(config)
    assert warnings_name([r.getMessage() for r in caplog.records if r.levelno == logging.WARNING], damaged)
    assert (f"{KEY}: 4 jobs in {sweep_dir}: 3 kept (finished), 0 resumed from their last.ckpt, 0 rerun from the start "
            "(failed, missing, or stopped before a checkpoint), 1 left as they are (summary.json cannot be read)"
            ) in [r.getMessage() for r in caplog.records]
    handler = signal.getsignal(signal.SIGTERM)
    try:  # inside job 1: not run (it would write its summary), nothing cleared
        assert resumable(task)(make_cfg("debug=fast", "logger=none", "resume_sweep=true",
                             f"paths.output_dir='{damaged[1].parent}'")) is None
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert unchanged(damaged, before) and (damaged[1].parent / "checkpoints" / "last.ckpt").is_file()


def cut_in_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def one_byte_changed(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]


@pytest.mark.parametrize("damage", [cut_in_half, one_byte_changed])
def test_a_killed_job_whose_checkpoint_cannot_be_loaded_is_named_and_run_again(tiny_sweep_copy, caplog, damage):
    """Resuming from it would end in Lightning's traceback; the job runs from the start instead, said in one line."""
    job_dir = next(p for p in tiny_sweep_copy.iterdir() if p.name.startswith("0_"))
    (job_dir / "summary.json").unlink()
    checkpoint = job_dir / "checkpoints" / "last.ckpt"
    checkpoint.write_bytes(damage(checkpoint.read_bytes()))
    job = read_job(job_dir)
    assert job.status == "interrupted" and plan(job) == RERUN and job.checkpoint_problem.startswith(
        "not a whole checkpoint: ")
    config = OmegaConf.load(tiny_sweep_copy / "multirun.yaml")
    config.resume_sweep = True
    config.hydra.sweep.dir = str(tiny_sweep_copy)
    caplog.set_level(logging.INFO, logger="diffusion_lightning.sweeps.resume")
    ResumeSweep().on_multirun_start(config)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"{KEY}: {checkpoint} cannot be loaded ({job.checkpoint_problem}); job 0 runs again from the "
                        "start"]
    assert f"{KEY}: 4 jobs in {tiny_sweep_copy}: 3 kept (finished), 0 resumed from their last.ckpt, 1 rerun" in (
        caplog.text)


def test_a_figure_cut_short_is_named_in_one_line_and_the_report_still_written(tiny_sweep_copy):
    """As a job killed while it saved a figure in place (before figures were written whole) leaves it."""
    job_dir = next(p for p in tiny_sweep_copy.iterdir() if p.name.startswith("1_"))
    figure = job_dir / "figures" / "samples.png"
    figure.write_bytes(cut_in_half(figure.read_bytes()))
    result = subprocess.run([sys.executable, "-m", "diffusion_lightning.sweeps.report", str(tiny_sweep_copy)],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: {figure} cannot be read ("), result.stderr
    assert all((tiny_sweep_copy / name).is_file() for name in ("report.html", "samples_grid.png", "report.csv"))


def test_a_file_written_whole_is_the_old_one_or_the_new_one(tmp_path):
    path = tmp_path / "samples.png"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with written_whole(path) as tmp:
            assert tmp.suffix == ".png" and tmp.parent == tmp_path
            tmp.write_bytes(b"ne")
            raise KeyboardInterrupt  # killed mid-write
    assert path.read_bytes() == b"old" and list(tmp_path.iterdir()) == [path]
    with written_whole(path) as tmp:
        tmp.write_bytes(b"new")
    assert path.read_bytes() == b"new" and list(tmp_path.iterdir()) == [path]


def test_a_run_killed_while_it_saves_a_figure_keeps_the_one_it_had(tmp_path):
    class Killed(Figures):
        def figures(self, trainer, pl_module):
            fig = Figure()
            fig.savefig = lambda path, **kwargs: (Path(path).write_bytes(b"\x89PNG half"), _raise(KeyboardInterrupt))
            return {"curves": fig}

    (tmp_path / "curves.png").write_bytes(b"the figure of the run before")
    with pytest.raises(KeyboardInterrupt):
        Killed(str(tmp_path)).on_test_end(SimpleNamespace(is_global_zero=True, loggers=[], global_step=0), None)
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]
    assert (tmp_path / "curves.png").read_bytes() == b"the figure of the run before"


def _raise(error):
    raise error
