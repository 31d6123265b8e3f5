"""Data parallelism on CPU (gloo), as a user runs it: `trainer=ddp trainer.devices=2`."""

import json
import math
import sys

from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import open_dict

from diffusion_lightning.training.ddp import relaunch_ranks_into_this_job

from .conftest import ROOT

FAST = ["debug=fast", "T=10", "logger=csv", "trainer=ddp", "trainer.devices=2", "callbacks.figures=null"]


def test_ddp_trains_and_writes_one_summary(cli, tmp_path):
    result = cli(*FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "run"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["step"] == 20 and math.isfinite(summary["test/nll_bound_bits"])
    assert len(list(tmp_path.rglob("summary.json"))) == 1
    assert len(list(tmp_path.rglob("metrics.csv"))) == 1  # logged once, by rank 0


def test_ddp_inside_a_sweep_runs_each_job_once(cli, tmp_path):
    result = cli("-m", *FAST, "seed=0,1", "hydra/launcher=basic")
    assert result.returncode == 0, result.stderr[-3000:]
    summaries = sorted((tmp_path / "sweep").glob("*/summary.json"))
    jobs = [json.loads(p.read_text()) for p in summaries]
    assert [job["status"] for job in jobs] == ["finished", "finished"]
    assert all(map(math.isfinite, (job["test/nll_bound_bits"] for job in jobs)))
    assert jobs[0]["test/nll_bound_bits"] != jobs[1]["test/nll_bound_bits"]  # each job trained with its own seed
    # the second rank re-runs its own job in the job's directory, never the sweep into a new one
    assert len(list(tmp_path.rglob("summary.json"))) == 2
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "multirun_outputs").exists()


def test_ddp_in_a_parallel_sweep_is_refused_in_one_line(cli, tmp_path):
    result = cli("-m", *FAST, "seed=0,1")
    assert result.returncode == 1
    assert "error: trainer=ddp in a -m sweep needs hydra/launcher=basic (got joblib)" in result.stderr
    jobs = [json.loads(p.read_text()) for p in sorted((tmp_path / "sweep").glob("*/summary.json"))]
    assert [job["status"] for job in jobs] == ["failed", "failed"] and "hydra/launcher=basic" in jobs[0]["error"]


def test_lightning_relaunches_a_rank_into_this_job_alone(tmp_path, monkeypatch):
    """``ddp.relaunch_ranks_into_this_job`` steers the command that Lightning builds for the other ranks under Hydra
    (its ``_hydra_subprocess_cmd``, which has no public counterpart: ``ddp_spawn`` would pickle the run to its
    ranks, torchrun would start the whole command on each): this job's overrides, in this job's directory, never the
    sweep's. A Lightning that builds the command another way fails here, in seconds, not in a sweep."""
    from lightning.fabric.strategies.launchers.subprocess_script import _hydra_subprocess_cmd

    job_dir = tmp_path / "sweep" / "1_seed=1"
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = GlobalHydra.instance().hydra.compose_config(
            "train", ["trainer=ddp", "seed=1", "hydra/launcher=basic"], run_mode=RunMode.MULTIRUN)
    with open_dict(cfg):
        cfg.hydra.mode, cfg.hydra.runtime.output_dir = RunMode.MULTIRUN, str(job_dir)
    monkeypatch.setattr(sys, "argv", [str(ROOT / "train.py"), "-m", "trainer=ddp", "seed=0,1", "hydra/launcher=basic"])
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", None)  # as for ``python train.py``
    previous = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(cfg)
    try:
        relaunch_ranks_into_this_job(cfg)
        command, cwd = _hydra_subprocess_cmd(local_rank=1)
    finally:
        HydraConfig.instance().cfg = previous
    assert command[:2] == [sys.executable, str(ROOT / "train.py")] and "-m" not in command
    assert [a for a in command[2:] if not a.startswith("hydra.")] == ["trainer=ddp", "seed=1"]
    assert f'hydra.run.dir="{job_dir}"' in command and cwd == str(ROOT)
