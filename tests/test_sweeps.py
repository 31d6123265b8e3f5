"""Sweeps as a user runs them: a tiny 2 × 2 grid with the basic and the joblib launcher, its W&B runs and its
report; a failed job; the sweep presets and the SLURM launcher config, composed (run them with `pytest -m slow`)."""

import csv
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from diffusion_lightning.training.loggers import configuration_name
from diffusion_lightning.sweeps.report import main as report

from .wandb_runs import offline_run

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted(p.stem for p in (ROOT / "conf" / "sweep").glob("*.yaml"))
TINY = ["debug=fast", "T=10", "callbacks.sample_metrics.n_samples=64", "callbacks.figures.n_samples=64"]
GRID = ["schedule=linear,cosine", "loss=kl,mse"]


def sweep(sweep_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    """``python train.py -m OVERRIDES`` with its sweep directory at ``sweep_dir``."""
    return subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", f"hydra.sweep.dir={sweep_dir}", *overrides],
                          cwd=sweep_dir.parent, capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1"})


def compose_hydra(*overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        return compose("train", overrides=list(overrides), return_hydra_config=True)


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    """The 2 × 2 grid (schedule × loss) with the basic launcher, logged to W&B offline: run once for this module."""
    sweep_dir = tmp_path_factory.mktemp("sweeps") / "grid"
    result = sweep(sweep_dir, *TINY, "logger=wandb", *GRID)
    assert result.returncode == 0, result.stderr[-2000:]
    return sweep_dir


def job_dirs(sweep_dir: Path) -> list[Path]:
    return sorted(p for p in sweep_dir.iterdir() if p.is_dir() and p.name[0].isdigit())


def test_a_grid_makes_one_directory_per_job_named_by_its_overrides(grid):
    jobs = job_dirs(grid)
    assert [p.name for p in jobs] == [f"{i}_T=10,callbacks.figures.n_samples=64,callbacks.sample_metrics.n_samples=64,"
                                      f"debug=fast,logger=wandb,loss={loss},schedule={schedule}"
                                      for i, (schedule, loss) in enumerate([("linear", "kl"), ("linear", "mse"),
                                                                            ("cosine", "kl"), ("cosine", "mse")])]
    for job in jobs:
        assert json.loads((job / "summary.json").read_text())["status"] == "finished"
        assert (job / ".hydra" / "overrides.yaml").is_file() and (job / "figures" / "samples.png").is_file()


def test_each_job_is_its_own_wandb_run_grouped_by_sweep_and_named_by_job(grid):
    for job in job_dirs(grid):
        run = offline_run(job)
        # the job type: the configuration, the overrides without the seed, the same for every seed
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        assert (run["run_group"], run["job_type"], run["display_name"]) == (
            grid.name, configuration_name(overrides), job.name)


def test_the_seeds_of_one_configuration_share_its_name():
    assert configuration_name(["loss=kl", "seed=0"]) == configuration_name(["seed=1", "loss=kl"]) == "loss=kl"
    assert configuration_name(["seed=2"]) == "default"
    long = [f"key{i}=value{i}" for i in range(20)]
    assert len(configuration_name(long)) == 64 and configuration_name(long) != configuration_name(long[:-1])


def test_tensorboard_gets_each_jobs_config_with_its_final_metrics(tmp_path):
    """``tensorboard --logdir <sweep>``: the HParams dashboard reads, from each job's event file, the session's
    hyperparameters and the metrics to compare them by."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2

    sweep_dir = tmp_path / "tb"
    result = sweep(sweep_dir, *TINY, "logger=tensorboard", "callbacks.figures=null", "schedule=linear,cosine")
    assert result.returncode == 0, result.stderr[-2000:]
    for job in job_dirs(sweep_dir):
        hparams, metrics = {}, set()
        for path in (job / "tensorboard").glob("events.out.tfevents.*"):
            for event in EventFileLoader(str(path)).Load():
                for value in event.summary.value:
                    if value.metadata.plugin_data.plugin_name != "hparams":
                        continue
                    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                    if data.HasField("session_start_info"):
                        hparams = dict(data.session_start_info.hparams)
                    if data.HasField("experiment"):
                        metrics = {m.name.tag for m in data.experiment.metric_infos}
        assert json.loads((job / "summary.json").read_text())["status"] == "finished"
        assert hparams["schedule/_target_"].string_value.endswith("." + job.name.rsplit("=", 1)[1])
        assert {"val/nll_bound_bits", "test/nll_bound_bits"} <= metrics, (job.name, metrics)


def test_the_report_over_the_grid_has_one_row_per_job(grid, capsys):
    assert report([str(grid)]) == 0
    assert capsys.readouterr().out.count("| finished |") == 4
    rows = list(csv.DictReader((grid / "report.csv").open()))
    assert len(rows) == 4 and {(r["schedule"], r["loss"]) for r in rows} == {
        ("linear", "kl"), ("linear", "mse"), ("cosine", "kl"), ("cosine", "mse")}
    values = [float(r["test/nll_bound_bits"]) for r in rows]
    assert values == sorted(values)
    for name in ("report.md", "report.html", "curves.png", "samples_grid.png", "forward_grid.png"):
        assert (grid / name).is_file(), name


def test_the_joblib_launcher_runs_the_same_grid(tmp_path):
    sweep_dir = tmp_path / "joblib"
    result = sweep(sweep_dir, *TINY, "logger=none", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *GRID)
    assert result.returncode == 0, result.stderr[-2000:]
    summaries = [json.loads((job / "summary.json").read_text()) for job in job_dirs(sweep_dir)]
    assert len(summaries) == 4 and all(s["status"] == "finished" for s in summaries)
    assert all("hydra/launcher" not in job.name for job in job_dirs(sweep_dir))


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_a_nested_group_swept_names_one_directory_per_job(tmp_path, launcher):
    """``loss/t_sampler=…`` names its jobs ``loss.t_sampler=…``: one directory each, directly under the sweep (a "/"
    in the name made a directory in a directory, which no reader of the sweep found: every job "missing")."""
    sweep_dir = tmp_path / launcher
    result = sweep(sweep_dir, *TINY, "logger=wandb", f"hydra/launcher={launcher}", "loss/t_sampler=uniform,importance")
    assert result.returncode == 0, result.stderr[-2000:]
    assert [job.name for job in job_dirs(sweep_dir)] == [
        f"{i}_T=10,callbacks.figures.n_samples=64,callbacks.sample_metrics.n_samples=64,debug=fast,logger=wandb,"
        f"loss.t_sampler={sampler}" for i, sampler in enumerate(["uniform", "importance"])]
    for job in job_dirs(sweep_dir):
        assert json.loads((job / "summary.json").read_text())["status"] == "finished"
        assert offline_run(job)["display_name"] == job.name


def test_a_failed_job_is_listed_as_failed_and_the_others_still_run(tmp_path, capsys):
    sweep_dir = tmp_path / "failing"
    result = sweep(sweep_dir, *TINY, "logger=none", "callbacks.figures=null", "data.noise=-1,0.5")
    assert result.returncode != 0 and "did not finish" in result.stderr
    assert report([str(sweep_dir)]) == 0
    rows = list(csv.DictReader((sweep_dir / "report.csv").open()))
    assert [(r["data.noise"], r["status"]) for r in rows] == [("0.5", "finished"), ("-1", "failed")]
    assert "data.noise=-1" in rows[1]["note"]


def test_sweep_directories_are_named_by_sweep_and_never_collide():
    dirs = {compose_hydra("sweep=swissroll_schedules").hydra.sweep.dir for _ in range(3)}
    assert len(dirs) == 3
    assert all(re.fullmatch(r"multirun_outputs/swissroll_schedules_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d{6}", d) for d in dirs)
    assert compose_hydra().hydra.sweep.dir.startswith("multirun_outputs/grid_")


def test_the_slurm_launcher_config_composes():
    for launcher in ("slurm", "submitit_slurm"):
        cfg = compose_hydra(f"hydra/launcher={launcher}", "hydra.launcher.partition=gpu")
        assert cfg.hydra.launcher._target_.endswith("submitit_launcher.SlurmLauncher")
        assert cfg.hydra.launcher.partition == "gpu"
    assert compose_hydra("hydra/launcher=slurm").hydra.launcher.submitit_folder.endswith("/.submitit/%j")


def grid_jobs(preset: str, *overrides: str) -> list[list[str]]:
    """The jobs a preset expands to, as Hydra's basic sweeper makes them: the product of each key's values (Hydra's
    public ``Override.sweep_string_iterator``), a later override of a key replacing an earlier one."""
    params = compose_hydra(f"sweep={preset}").hydra.sweeper.params
    values = {}
    for o in OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()] + list(overrides)):
        swept = o.sweep_string_iterator() if o.is_sweep_override() else [o.get_value_element_as_str()]
        values[o.get_key_element()] = [f"{o.get_key_element()}={v}" for v in swept]
    return [list(job) for job in itertools.product(*values.values())]


@pytest.mark.parametrize("preset", PRESETS)
def test_every_job_of_every_preset_composes(preset, make_cfg):
    jobs = grid_jobs(preset)
    assert len(jobs) >= 2
    for job in jobs:
        cfg = make_cfg(f"sweep={preset}", *job)
        assert cfg.sweep_name == preset
        assert cfg.process._target_.endswith("BinomialDiffusion") == preset.startswith("heartbeat")


def test_a_preset_is_narrowed_from_the_command_line(make_cfg):
    assert len(grid_jobs("swissroll_optimizers")) == 5
    assert len(grid_jobs("swissroll_optimizers", "slides_optimizer=adam_1e-3,sgd_1e-3")) == 2
    assert len(grid_jobs("swissroll_schedules", "T=40,100")) == 10
    cfg = make_cfg("sweep=swissroll_optimizers", "slides_optimizer=sgd_momentum_exponential")
    assert cfg.optimizer.momentum == 0.9 and cfg.optimizer.lr == 1e-3
    assert cfg.lr_scheduler._target_.endswith("exponential")


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_runs_end_to_end(preset, tmp_path):
    sweep_dir = tmp_path / preset
    budget = ["trainer.max_steps=10", "trainer.val_check_interval=5", "data.n_train=1024", "data.n_val=128",
              "data.n_test=128", "callbacks.sample_metrics.n_samples=64", "++callbacks.figures.n_samples=64"]
    result = sweep(sweep_dir, f"sweep={preset}", "logger=none", *budget)
    assert result.returncode == 0, result.stderr[-2000:]
    assert report([str(sweep_dir)]) == 0
    rows = list(csv.DictReader((sweep_dir / "report.csv").open()))
    assert len(rows) == len(grid_jobs(preset)) and all(r["status"] == "finished" for r in rows)
