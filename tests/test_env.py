"""What the entry points set before torch loads (``environment.configure``): OpenMP threads wait passively when other
processes keep the cores busy, unless the environment chose a policy. Importing the package sets nothing."""

import os
import subprocess
import sys

import pytest

from diffusion_lightning.training import environment

PROBE = ("import os, diffusion_lightning.training.environment as e; e.configure(); "
         "print(os.environ.get('OMP_WAIT_POLICY'), e.OMP_AUTO_PASSIVE)")


@pytest.fixture
def busy_core():
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield
    spin.kill()
    spin.wait()


def probe(env_policy: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", environment.CHECKED)}
    if env_policy is not None:
        env["OMP_WAIT_POLICY"] = env_policy
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True).stdout


def test_busy_cores_are_measured(busy_core):
    assert environment.busy_cores() >= 0.5


def test_threads_wait_passively_beside_a_busy_process(busy_core):
    policy, busy = probe().split()
    assert policy == "PASSIVE" and float(busy) >= 0.5


def test_a_policy_from_the_environment_is_kept(busy_core):
    assert probe("ACTIVE").split() == ["ACTIVE", "None"]


def test_the_math_imports_without_lightning_or_hydra(busy_core):
    code = ("import os, sys, diffusion_lightning.diffusion.processes, diffusion_lightning.diffusion.schedules; "
            "print(sorted(m for m in ('lightning', 'hydra') if m in sys.modules), os.environ.get('OMP_WAIT_POLICY'))")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", environment.CHECKED)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "None"]  # nothing loaded, no setting made, even beside a busy core
