"""Launchers beyond one machine, each standing in for its cluster: a 2-job grid on a local Ray cluster bound to the
loopback address (inside a network namespace of its own where one can be made), and through submitit's local
executor, the code path of SLURM; each job in its own process and its own directory, the report over the sweep;
the sbatch options of the SLURM config. The Optuna sweeper: three trials in a study stored in
SQLite, continued by a second launch whose failing trials are recorded as failed while the search goes on."""

import csv
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from diffusion_lightning.sweeps.report import main as report
from diffusion_lightning.sweeps.jobs import read_jobs

from .wandb_runs import offline_run

ROOT = Path(__file__).resolve().parents[1]
TINY = ["debug=fast", "T=10", "callbacks.sample_metrics.n_samples=64", "callbacks.figures.n_samples=64"]
ENV = {**os.environ, "WANDB_SILENT": "true", "RAY_USAGE_STATS_ENABLED": "0"}


def loopback_only() -> list[str]:
    """A prefix that runs a command in a new network namespace whose only interface is loopback (root, Linux), so
    that Ray's servers, whatever address they bind, are reachable from this machine alone; empty where none can be
    made."""
    prefix = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    if not (shutil.which("unshare") and shutil.which("ip")):
        return []
    return prefix if subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode == 0 else []


def sweep(sweep_dir: Path, *overrides: str, prefix: list[str] = (), env: dict | None = None):
    return subprocess.run([*prefix, sys.executable, str(ROOT / "train.py"), "-m", f"hydra.sweep.dir={sweep_dir}",
                           *overrides], cwd=sweep_dir.parent, capture_output=True, text=True, timeout=600,
                          check=False, env=env or ENV)


def check_jobs(sweep_dir: Path, seeds: list[int]) -> list[dict]:
    """One directory per job, directly under the sweep (the nested group ``loss/t_sampler`` that the launchers' sweeps
    set named ``loss.t_sampler`` by the worker), each holding its own job's config and a finished summary; their
    run_info.json."""
    jobs = read_jobs(sweep_dir)
    assert [job.num for job in jobs] == list(range(len(seeds))) and len({job.path for job in jobs}) == len(seeds)
    for job, seed in zip(jobs, seeds):
        assert job.status == "finished" and job.path.name.endswith(f"loss.t_sampler=uniform,seed={seed}")
        assert job.full_config["seed"] == seed and job.summary["step"] == 20
    return [json.loads((job.path / "run_info.json").read_text()) for job in jobs]


def test_ray_runs_each_job_as_a_task_with_its_cpus_directory_wandb_run_and_summary(tmp_path, capsys):
    sweep_dir = tmp_path / "ray"
    ray_dir = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    env = {k: v for k, v in ENV.items() if k != "OMP_NUM_THREADS"}  # the job's threads come from Ray
    try:
        result = sweep(sweep_dir, "hydra/launcher=ray", "hydra.launcher.ray.init.num_cpus=2",
                       f"+hydra.launcher.ray.init._temp_dir={ray_dir}", *TINY, "logger=wandb", "seed=0,1",
                       "loss/t_sampler=uniform",
                       prefix=loopback_only(), env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Started a local Ray instance" in result.stderr
        deadline = time.monotonic() + 30
        while subprocess.run(["pgrep", "-f", str(ray_dir)], capture_output=True, check=False).returncode == 0:
            assert time.monotonic() < deadline, "Ray's processes outlived the sweep"
            time.sleep(0.5)
    finally:
        shutil.rmtree(ray_dir, ignore_errors=True)
    infos = check_jobs(sweep_dir, [0, 1])
    assert [info["torch_threads"] for info in infos] == [1, 1]  # hydra.launcher.ray.remote.num_cpus
    for job in read_jobs(sweep_dir):
        run = offline_run(job.path)
        assert (run["run_group"], run["display_name"]) == (sweep_dir.name, job.name)
    assert report([str(sweep_dir)]) == 0
    rows = list(csv.DictReader((sweep_dir / "report.csv").open()))
    assert sorted((r["seed"], r["status"]) for r in rows) == [("0", "finished"), ("1", "finished")]


def test_submitit_runs_each_job_pickled_in_its_own_process(tmp_path):
    sweep_dir = tmp_path / "submitit"
    grid = [*TINY, "logger=none", "callbacks.figures=null", "seed=0,1", "loss/t_sampler=uniform"]
    env = {**ENV, "OMP_NUM_THREADS": "1"}  # the two jobs run at once
    result = sweep(sweep_dir, "hydra/launcher=submitit_local", *grid, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    check_jobs(sweep_dir, [0, 1])
    submissions = sorted(p for p in (sweep_dir / ".submitit").iterdir() if p.name.isdigit())
    assert len(submissions) == 2  # one submitted job per sweep job, each with its pickled call and result
    for folder in submissions:
        assert list(folder.glob("*_submitted.pkl")) and list(folder.glob("*_result.pkl"))


def test_slurm_arrays_are_limited_and_a_job_near_its_time_limit_is_sent_sigterm(tmp_path):
    """The sbatch script that a real ``-m`` launch with conf/hydra/launcher/slurm.yaml submits, caught by an
    ``sbatch`` of our own that keeps it and refuses (no cluster needed): SIGTERM, which stops a job with a last.ckpt
    for resume_sweep=true, instead of submitit's USR2, which fails it."""
    bin_dir, script = tmp_path / "bin", tmp_path / "submitted.sh"
    bin_dir.mkdir()
    commands = {"sbatch": f'cp "$1" {script}\necho "no cluster here" >&2', "srun": ""}  # submitit looks for srun
    for name, body in commands.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\nexit 1\n")
        (bin_dir / name).chmod(0o755)
    env = {**ENV, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = sweep(tmp_path / "slurm", "hydra/launcher=slurm", "hydra.launcher.array_parallelism=4",
                   "hydra.launcher.gpus_per_node=1", *TINY, "logger=none", "seed=range(8)", env=env)
    assert result.returncode != 0 and "no cluster here" in result.stderr, result.stderr[-3000:]
    lines = set(script.read_text().splitlines())
    assert {"#SBATCH --array=0-7%4", "#SBATCH --gpus-per-node=1", "#SBATCH --signal=TERM@120"} <= lines, lines


def test_optuna_searches_in_a_stored_study_that_a_later_launch_continues_past_failing_trials(tmp_path):
    import optuna

    storage = f"sqlite:///{tmp_path}/study.db"
    search = ["hydra/sweeper=optuna", "hydra.sweeper.n_trials=3", "hydra.sweeper.sampler.seed=0",
              f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=lr", *TINY, "logger=none",
              "callbacks.figures=null", "optimizer.lr=tag(log, interval(1e-4, 1e-2))"]
    env = {**ENV, "OMP_NUM_THREADS": "1"}
    result = sweep(tmp_path / "first", *search, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = optuna.load_study(study_name="lr", storage=storage).trials
    values = [trial.value for trial in trials]
    assert len(values) == 3 and all(v is not None and math.isfinite(v) for v in values)
    jobs = read_jobs(tmp_path / "first")
    assert [job.value("val/nll_bound_bits") for job in jobs] == pytest.approx(values)
    best = OmegaConf.load(tmp_path / "first" / "optimization_results.yaml")
    assert best.best_value == min(values)
    assert best.best_params["optimizer.lr"] == trials[values.index(min(values))].params["optimizer.lr"]

    result = sweep(tmp_path / "more", *search, "hydra.sweeper.n_trials=2", "data.noise=-1", env=env)  # both fail
    assert result.returncode == 1 and "2 job(s) of the sweep" in result.stderr
    assert len(read_jobs(tmp_path / "more")) == 2  # the second trial ran after the first failed
    trials = optuna.load_study(study_name="lr", storage=storage).trials
    assert [trial.state.name for trial in trials] == ["COMPLETE"] * 3 + ["FAIL"] * 2
    assert OmegaConf.load(tmp_path / "more" / "optimization_results.yaml").best_value == min(values)


AUTH_PROBE = """
import json, os, subprocess, sys
import ray

ray.init(**json.loads(sys.argv[1]))
address = ray.get_runtime_context().gcs_address
client = "import ray, sys; ray.init(address=sys.argv[1]); print('connected', ray.get(ray.remote(lambda: 1).remote()))"
with_token = subprocess.run([sys.executable, "-c", client, address], capture_output=True, text=True, timeout=120)
no_token = {**{k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}, "HOME": sys.argv[2]}
stranger = subprocess.Popen([sys.executable, "-c", client, address], env=no_token, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
refusal = next((line for line in stranger.stdout if "connected 1" in line or "Unauthenticated" in line), "")
stranger.kill()
ray.shutdown()
print(json.dumps({"mode": os.environ.get("RAY_AUTH_MODE"), "with_token": with_token.stdout, "without": refusal}))
"""


def test_the_local_ray_cluster_refuses_a_client_without_its_token(tmp_path):
    """Ray ≥ 2.59 turns token authentication on for the local cluster the launcher starts (``ray.init`` with
    conf/hydra/launcher/ray.yaml's arguments, as hydra-ray-launcher calls it): a client that has the token (the
    head's ~/.ray/auth_token) runs a task; one without it is refused. HOME is a temporary folder, so the token Ray
    generates is not written to the user's home."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose("train", overrides=["hydra/launcher=ray", "hydra.launcher.ray.init.num_cpus=1"],
                      return_hydra_config=True)
    ray_dir = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    init = {**OmegaConf.to_container(cfg.hydra.launcher.ray.init, resolve=True), "_temp_dir": str(ray_dir)}
    env = {**{k: v for k, v in ENV.items() if not k.startswith("RAY_AUTH")}, "HOME": str(tmp_path)}
    try:
        stranger = tmp_path / "stranger"  # a home without .ray/auth_token
        stranger.mkdir()
        result = subprocess.run([*loopback_only(), sys.executable, "-c", AUTH_PROBE, json.dumps(init), str(stranger)],
                                env=env, capture_output=True, text=True, timeout=300, check=False)
    finally:
        shutil.rmtree(ray_dir, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.splitlines()[-1])
    assert probe["mode"] == "token" and (tmp_path / ".ray" / "auth_token").is_file()
    assert probe["with_token"].strip() == "connected 1"
    assert "InvalidAuthToken" in probe["without"], probe["without"]
