import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("WANDB_SILENT", "true")
if os.environ.get("PYTEST_XDIST_WORKER"):  # one worker per core (pytest -n auto): one torch thread each, in the tests
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # and the runs they start, or two workers' threads fight for 2 cores
# The tiny sweep that the tests which only read a sweep share: a schedule × loss grid of 4 jobs, logged to W&B offline.
TINY = ["debug=fast", "T=10", "callbacks.sample_metrics.n_samples=64", "callbacks.figures.n_samples=64"]
TINY_SWEEP = [*TINY, "logger=wandb", "schedule=linear,cosine", "loss=kl,mse"]


def run_sweep(sweep_dir: Path, *overrides: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python train.py -m OVERRIDES`` with its sweep directory at ``sweep_dir``, as a user runs it."""
    return subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", f"hydra.sweep.dir={sweep_dir}", *overrides],
                          cwd=sweep_dir.parent, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory) -> Path:
    """``python train.py -m TINY_SWEEP``, run once per test session (once per pytest-xdist worker) for the tests that
    only read a sweep; a test that writes into a sweep works on ``tiny_sweep_copy``."""
    sweep_dir = tmp_path_factory.mktemp("tiny") / "grid"
    result = run_sweep(sweep_dir, *TINY_SWEEP)
    assert result.returncode == 0, result.stderr[-2000:]
    return sweep_dir


@pytest.fixture
def tiny_sweep_copy(tiny_sweep, tmp_path) -> Path:
    """A copy of the tiny sweep of this test's own, to write into."""
    return shutil.copytree(tiny_sweep, tmp_path / tiny_sweep.name, symlinks=True)


@pytest.fixture
def make_cfg(tmp_path):
    """Compose conf/train.yaml with overrides, writing into a temporary run directory."""
    def make(*overrides: str):
        with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
            return compose("train", overrides=[f"paths.output_dir={tmp_path}", *overrides])
    return make


@pytest.fixture
def cli(tmp_path):
    """Run ``python train.py ARGS`` in a subprocess with run and sweep directories under tmp_path."""
    def run(*args: str, timeout: int = 300, env: dict | None = None) -> subprocess.CompletedProcess:
        flags = [a for a in args if a.startswith("-")]
        overrides = [a for a in args if not a.startswith("-")]
        cmd = [sys.executable, str(ROOT / "train.py"), *flags, f"hydra.run.dir={tmp_path}/run",
               f"hydra.sweep.dir={tmp_path}/sweep", *overrides]
        return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
    return run


# A small trained run for the tests that use one (load_run, sample.py, evaluate.py): 30 steps with an EMA short enough
# to give finite samples, its periodic last.ckpt at step 20 and its final weights kept by FinalCheckpoint.
TRAINED = ["debug=fast", "ema_decay=0.9", "logger=none", "trainer.max_steps=30",
           "callbacks.last_checkpoint.every_n_train_steps=20"]


def train_here(directory: Path, *overrides: str) -> tuple:
    """``python train.py OVERRIDES`` in this process, into ``directory`` with the config files Hydra keeps there
    (``.hydra/config.yaml``, ``overrides.yaml``); returns the draw (samples, frames) that its figures showed."""
    import yaml
    from omegaconf import OmegaConf

    from diffusion_lightning.training import callbacks
    from diffusion_lightning.training.run import run

    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose("train", overrides=[f"paths.output_dir={directory}", *overrides])
    (directory / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, directory / ".hydra" / "config.yaml")
    (directory / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    draws, draw = [], callbacks.draw_samples
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(callbacks, "draw_samples", lambda *args, **kw: draws.append(draw(*args, **kw)) or draws[-1])
        run(cfg)
    return draws[-1]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> tuple[Path, tuple]:
    """A Swiss roll run (``TRAINED``) and its figures' draw."""
    directory = tmp_path_factory.mktemp("trained") / "run"
    return directory, train_here(directory, *TRAINED)


@pytest.fixture(scope="session")
def trained_heartbeat(tmp_path_factory) -> Path:
    """A heartbeat run (``TRAINED``, data=heartbeat)."""
    directory = tmp_path_factory.mktemp("trained") / "heartbeat"
    train_here(directory, *TRAINED, "data=heartbeat")
    return directory


def copy_as_sweep(run_dir: Path, root: Path, statuses: list[str]) -> Path:
    """A sweep directory at ``root`` whose job ``<num>_seed=<num>`` is a copy of ``run_dir`` with ``seed=<num>`` in its
    overrides and the status ``statuses[num]`` in its summary (a job that did not finish says why: "diverged")."""
    import json

    import yaml

    for num, status in enumerate(statuses):
        job = shutil.copytree(run_dir, root / f"{num}_seed={num}")
        overrides = job / ".hydra" / "overrides.yaml"
        overrides.write_text(yaml.safe_dump([*yaml.safe_load(overrides.read_text()), f"seed={num}"]))
        summary = json.loads((job / "summary.json").read_text()) | {"status": status}
        (job / "summary.json").write_text(json.dumps(summary | ({} if status == "finished" else {"error": "diverged"})))
    return root
