import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("WANDB_SILENT", "true")


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
