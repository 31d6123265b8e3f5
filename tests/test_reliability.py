"""What a user sees when things go wrong: one clear line, a non-zero exit, and nothing written lost."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import wandb
from lightning.pytorch.loggers import WandbLogger
from omegaconf import OmegaConf

from diffusion_lightning.errors import ConfigError, known_failure
from diffusion_lightning.training.loggers import check_wandb_online, start_loggers
from diffusion_lightning.training.run import run

from .conftest import ROOT

FAST = ["debug=fast", "T=10", "logger=none"]


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("overrides,fragments", [
    (["T=0"], ["T=0", "≥ 1"]),
    (["optimizer.lr=-1"], ["optimizer.lr=-1", "> 0"]),
    (["schedule.beta_end=1.5"], ["schedule.beta_end=1.5 must be a number in (0, 1)"]),
    (["data.batch_size=0"], ["data.batch_size=0", "≥ 1"]),
    (["process=binomial"], ["process=binomial needs binary data"]),
    (["eval_seed=abc"], ["eval_seed=abc", "≥ 0"]),
])
def test_bad_setting_is_one_line(cli, overrides, fragments):
    assert_one_line_error(cli(*FAST, *overrides), *fragments)


@pytest.mark.parametrize("overrides,line", [
    (["data=heartbeat", "data.n_val=1"], "data.n_val=1 must be ≥ 2"),
    (["lr_scheduler=cosine", "lr_scheduler.final_factor=1.5"], "lr_scheduler.final_factor=1.5 must lie in [0, 1]"),
    (["lr_scheduler=cosine", "lr_scheduler.final_factor=-0.1"], "lr_scheduler.final_factor=-0.1 must lie in [0, 1]"),
    (["callbacks.sample_metrics.n_samples=1"], "callbacks.sample_metrics.n_samples=1 must be ≥ 2; "
                                               "callbacks.sample_metrics=null turns the sample metrics off"),
    (["callbacks.sample_metrics.n_samples=8", "++callbacks.sample_metrics.val_samples=1"],
     "callbacks.sample_metrics.val_samples=1 must be 0 (none) or ≥ 2"),
])
def test_a_size_or_factor_that_cannot_work_is_refused_in_one_line(make_cfg, overrides, line):
    """In-process: the ConfigError behind the failure is what ``train.py`` prints as its one ``error:`` line."""
    with pytest.raises(Exception) as info:
        run(make_cfg(*FAST, "callbacks.figures=null", *overrides))
    assert isinstance(known_failure(info.value), ConfigError) and str(known_failure(info.value)) == line


def test_full_traceback_on_request(cli):
    result = cli(*FAST, "T=0", env={"HYDRA_FULL_ERROR": "1"})
    assert result.returncode != 0 and "Traceback" in result.stderr and "ConfigError" in result.stderr


def test_unknown_option_gets_hydras_message(cli):
    result = cli(*FAST, "schedule=wavy")
    assert result.returncode != 0 and "Could not find 'schedule/wavy'" in result.stderr


def test_bad_data_file_names_file_and_line(cli, tmp_path):
    bad = tmp_path / "train.txt"
    bad.write_text("00100\n0010\n")
    assert_one_line_error(cli(*FAST, "data=heartbeat", f"data.train_file={bad}", "data.batch_size=1"),
                          "train.txt, line 2", "length 4")


def test_divergence_stops_with_a_hint_and_a_failed_summary(cli, tmp_path):
    result = cli(*FAST, "optimizer=sgd", "optimizer.lr=1e30", "trainer.gradient_clip_val=null")
    assert_one_line_error(result, "training diverged at step", "learning rate")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and "diverged" in summary["error"]


def test_a_failed_job_does_not_stop_the_sweep(cli, tmp_path):
    result = cli("-m", *FAST, "optimizer=sgd", "trainer.gradient_clip_val=null", "optimizer.lr=1e-3,1e30")
    statuses = sorted(json.loads(p.read_text())["status"] for p in (tmp_path / "sweep").glob("*/summary.json"))
    assert statuses == ["failed", "finished"]
    assert result.returncode != 0 and "1 job(s) of the sweep" in result.stderr


def test_wandb_online_without_an_account_fails_at_once(cli, tmp_path):
    env = {"HOME": str(tmp_path), "WANDB_API_KEY": "", "NETRC": str(tmp_path / "none")}
    start = time.time()
    result = cli("debug=fast", "T=10", "logger=wandb", "logger.wandb.offline=false", env=env)
    assert_one_line_error(result, "wandb login")
    assert time.time() - start < 120


def test_a_netrc_that_cannot_be_parsed_is_named_not_read_as_no_key(tmp_path, monkeypatch):
    (tmp_path / ".netrc").write_text("machine api.wandb.ai\n  bogus token\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    wandb_cfg = OmegaConf.create({"_target_": "lightning.pytorch.loggers.WandbLogger", "offline": False})
    with pytest.raises(ConfigError) as info:
        check_wandb_online(wandb_cfg)
    assert str(info.value) == (f"{tmp_path / '.netrc'}, line 2: bad follower token 'bogus'; fix the file (wandb login "
                               "writes it), or set WANDB_API_KEY")


class Failing:
    """A logger whose start raises ``error``."""

    def __init__(self, error: Exception):
        self.error = error

    def log_hyperparams(self, params) -> None:
        raise self.error


class UnreachableWandb(WandbLogger):
    def log_hyperparams(self, params) -> None:
        raise wandb.errors.CommError("dial tcp 127.0.0.1:9: connect: connection refused")


def test_a_logger_that_cannot_start_says_why_and_keeps_the_cause(tmp_path):
    cfg = OmegaConf.create({"T": 10})
    with pytest.raises(ConfigError, match=r"^logger UnreachableWandb could not start: dial tcp .* refused; check the "
                                          r"network, or log offline with logger.wandb.offline=true") as info:
        start_loggers([UnreachableWandb(offline=True, save_dir=str(tmp_path))], cfg)
    assert isinstance(info.value.__cause__, wandb.errors.CommError)
    with pytest.raises(ConfigError, match=r"^logger Failing could not write its files: \[Errno 28\] No space left on "
                                          r"device; check the directory \(paths.output_dir\)") as info:
        start_loggers([Failing(OSError(28, "No space left on device"))], cfg)
    assert isinstance(info.value.__cause__, OSError)


def test_a_logger_bug_is_not_mistaken_for_the_network(tmp_path):
    """A serialisation bug keeps its own type and traceback: no W&B hint, not a one-line ConfigError."""
    with pytest.raises(TypeError, match="not JSON serializable") as info:
        start_loggers([Failing(TypeError("Object of type Tensor is not JSON serializable"))], OmegaConf.create({}))
    assert known_failure(info.value) is None


@pytest.mark.slow
def test_wandb_online_without_a_network_fails_instead_of_hanging(cli, tmp_path):
    """A server that refuses connections (a closed port on loopback) stands in for a missing network."""
    env = {"WANDB_API_KEY": "0" * 40, "WANDB_BASE_URL": "http://127.0.0.1:9", "HOME": str(tmp_path)}
    start = time.time()
    result = cli("debug=fast", "T=10", "logger=wandb", "logger.wandb.offline=false", env=env)
    assert_one_line_error(result, "could not start", "offline")
    assert time.time() - start < 150


def test_weak_schedule_warns_with_the_prior_cost(cli):
    result = cli(*FAST, "schedule.beta_end=0.001", "schedule.beta_start=0.0001")
    assert result.returncode == 0
    assert "the prior term L_T" in result.stdout + result.stderr


def test_same_seed_same_numbers(make_cfg, tmp_path):
    results = []
    for name in ("a", "b"):
        run(make_cfg(*FAST, "callbacks.figures=null", f"paths.output_dir={tmp_path / name}"))
        results.append(json.loads((tmp_path / name / "summary.json").read_text()))
    keys = [k for k in results[0] if k.startswith(("val/", "test/", "samples/", "train/"))]
    assert keys and all(results[0][k] == results[1][k] for k in keys), [(k, results[0][k], results[1][k]) for k in keys]


def test_run_directory_holds_what_is_needed_to_rerun(cli, tmp_path):
    assert cli(*FAST).returncode == 0
    run_dir = tmp_path / "run"
    info = json.loads((run_dir / "run_info.json").read_text())
    assert info["diffusion_lightning"] and info["torch"] and "command" in info
    assert {p.name for p in (run_dir / ".hydra").iterdir()} >= {"config.yaml", "overrides.yaml", "hydra.yaml"}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interruption_leaves_a_checkpoint_and_an_honest_summary(tmp_path, sig):
    """A real Ctrl-C or kill to a running training: last.ckpt loads, summary.json says interrupted."""
    cmd = [sys.executable, str(ROOT / "train.py"), f"hydra.run.dir={tmp_path}", "logger=none", "T=10",
           "trainer.max_steps=1000000", "callbacks.figures=null"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "checkpoints" / "last.ckpt").exists():
        time.sleep(0.5)
    time.sleep(1)
    proc.send_signal(sig)
    proc.wait(timeout=120)
    assert proc.returncode != 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["step"] > 0
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == summary["step"]


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)
