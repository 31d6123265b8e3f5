"""What the entry points set before torch loads (``environment.configure``): OpenMP threads wait passively when other
processes keep the cores busy, unless the environment chose a policy; freed memory is kept for reuse. Importing the
package sets nothing."""

import ast
import os
import platform
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from diffusion_lightning.training import environment

from .conftest import ROOT

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


def test_every_library_the_package_imports_is_declared():
    """Each third-party module imported anywhere in ``diffusion_lightning/`` comes from a distribution listed in
    pyproject.toml's ``dependencies`` (not only in an extra, and not merely installed as another's dependency)."""
    imported = set()
    for path in (ROOT / "diffusion_lightning").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"diffusion_lightning"}
    declared = {canonicalize_name(Requirement(r).name)
                for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    providers = packages_distributions()
    undeclared = {m: providers.get(m) for m in third_party
                  if not declared & {canonicalize_name(d) for d in providers.get(m, [])}}
    assert {"torch", "lightning", "hydra", "yaml", "PIL"} <= third_party and not undeclared, undeclared


FAULTS = """
import resource, sys, torch
from diffusion_lightning.networks import TimeMLP
from diffusion_lightning.training import environment
if sys.argv[1] == "configure":
    environment.configure()
net, x, t = TimeMLP(2, 2, 100), torch.randn(1 << 15, 2), torch.randint(1, 101, (1 << 15,))
with torch.no_grad():
    for _ in range(2):  # the second pass is counted: the first may fault in the heap it then keeps
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for x_part, t_part in zip(x.split(8192), t.split(8192)):
            net(x_part, t_part)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(*args: str, **env: str) -> int:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | env
    return int(subprocess.run([sys.executable, "-c", FAULTS, *args], env=environ, capture_output=True, text=True,
                              check=True).stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")
def test_evaluation_batches_reuse_freed_memory():
    """Four batches of the bound's size through the default MLP: with glibc's defaults every 8 MiB activation is
    faulted in afresh (about 24,000 pages a pass); once ``configure`` has raised the thresholds, none is."""
    assert page_faults("default") > 5000
    assert page_faults("configure") < 500
    assert page_faults("configure", MALLOC_TRIM_THRESHOLD_=str(128 << 10)) > 5000  # the environment's choice stands
