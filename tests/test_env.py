"""What the entry points set before torch loads (``environment.configure``): OpenMP threads wait passively when other
processes keep the cores busy, unless the environment chose a policy; freed memory is kept for reuse. Importing the
package sets nothing."""

import ast
import importlib.util
import os
import platform
import subprocess
import sys
from importlib.metadata import packages_distributions

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from diffusion_lightning.training import environment

from .conftest import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli, the same parser (pyproject's dev extra installs it there)
    import tomli as tomllib

PROBE = ("import os, diffusion_lightning.training.environment as e; e.configure(); "
         "print(os.environ.get('OMP_WAIT_POLICY'), e.OMP_AUTO_PASSIVE)")


# The probes run on two cores of this machine, one of which a spinning process keeps busy: a busy half of the cores,
# whatever their number (on more than four cores one busy core would be less than the quarter ``configure`` asks).
CORES = sorted(os.sched_getaffinity(0))[:2] if hasattr(os, "sched_getaffinity") else []


@pytest.fixture
def busy_core():
    if not CORES:
        pytest.skip("needs CPU affinity (Linux) to pin the probes beside the busy core")
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                            preexec_fn=lambda: os.sched_setaffinity(0, CORES[:1]))
    yield
    spin.kill()
    spin.wait()


def probe(env_policy: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", environment.CHECKED)}
    if env_policy is not None:
        env["OMP_WAIT_POLICY"] = env_policy
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True,
                          preexec_fn=lambda: os.sched_setaffinity(0, CORES)).stdout


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


SIDE_EFFECTS = """
import importlib, pkgutil, sys, warnings
import matplotlib
for name in sys.argv[1:]:  # what the package imports from other libraries, whose own imports may set filters
    importlib.import_module(name)
import diffusion_lightning
before = list(warnings.filters)
for module in pkgutil.walk_packages(diffusion_lightning.__path__, "diffusion_lightning."):
    if not module.name.endswith("__main__"):  # the entry points configure the process
        importlib.import_module(module.name)
print(matplotlib.get_backend(), [f for f in warnings.filters if f not in before])
"""


def imported_modules(folder: str = "diffusion_lightning") -> set[str]:
    """Every module that a file under ``folder`` imports by its full dotted name (``from a.b import c``: ``a.b``),
    at module level or inside a function; relative imports left out."""
    names = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module)
    return names


PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT, PROJECT_BUILD = PYPROJECT["project"], PYPROJECT["build-system"]
EXTRAS = [r for extra in PROJECT["optional-dependencies"].values() for r in extra]


def undeclared(folder: str, requirements: list[str]) -> tuple[set[str], dict]:
    """The third-party modules that ``folder`` imports, and those of them that no distribution in ``requirements``
    provides (with the distributions that do provide them here)."""
    third_party = {m.split(".")[0] for m in imported_modules(folder)} - set(sys.stdlib_module_names) - {
        "diffusion_lightning", "tests"}
    declared = {canonicalize_name(Requirement(r).name) for r in requirements}
    providers = packages_distributions()
    return third_party, {m: providers.get(m) for m in third_party
                         if not declared & {canonicalize_name(d) for d in providers.get(m, [m])}}


def test_importing_every_module_sets_no_backend_and_no_warning_filter():
    """A library user who imports the package keeps the matplotlib backend and the warning filters they chose;
    ``environment.configure`` (the entry points) is where the process is set up."""
    others = sorted(m for m in imported_modules() if m.split(".")[0] != "diffusion_lightning")
    env = {**os.environ, "MPLBACKEND": "svg"}
    result = subprocess.run([sys.executable, "-c", SIDE_EFFECTS, *others], env=env, capture_output=True, text=True,
                            check=True)
    assert result.stdout.split(maxsplit=1) == ["svg", "[]\n"], result.stdout


def test_every_library_the_package_imports_is_declared():
    """Each third-party module imported anywhere in ``diffusion_lightning/`` comes from a distribution listed in
    pyproject.toml's ``dependencies`` (not only in an extra, and not merely installed as another's dependency)."""
    third_party, missing = undeclared("diffusion_lightning", PROJECT["dependencies"])
    assert {"torch", "lightning", "hydra", "yaml", "PIL"} <= third_party and not missing, missing


def test_every_library_the_tests_import_is_declared_for_them():
    """``pip install -e .[dev]`` brings everything the suite imports (packaging was once only there by chance)."""
    third_party, missing = undeclared("tests", PROJECT["dependencies"] + EXTRAS)
    assert {"pytest", "packaging", "playwright"} <= third_party and not missing, missing


def test_every_requirement_stops_below_a_major_version_not_yet_tested():
    uncapped = [r for r in PROJECT["dependencies"] + EXTRAS
                if not Requirement(r).name.startswith("diffusion_lightning")
                and not any(spec.operator in ("<", "<=", "==", "~=") for spec in Requirement(r).specifier)]
    assert not uncapped, uncapped


FAULTS = """
import resource, sys, torch
from diffusion_lightning.networks import TimeMLP
from diffusion_lightning.training import environment
if sys.argv[1] == "configure":
    environment.configure()
net, x, t = TimeMLP(2, 2, 100), torch.randn(1 << 15, 2), torch.randint(1, 101, (1 << 15,))
faults = []
with torch.no_grad():
    for _ in range(4):  # the first pass may fault in the heap it then keeps: the others are counted
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for x_part, t_part in zip(x.split(8192), t.split(8192)):
            net(x_part, t_part)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(*faults[1:])
"""


def page_faults(*args: str, **env: str) -> list[int]:
    """The page faults of each pass after the first. One thread and a fixed wait policy, so that neither the number
    of cores nor what else the machine runs (which ``configure`` would react to) changes the allocations."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | {
        "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"} | env
    return [int(n) for n in subprocess.run([sys.executable, "-c", FAULTS, *args], env=environ, capture_output=True,
                                           text=True, check=True).stdout.split()]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")
def test_evaluation_batches_reuse_freed_memory():
    """Four batches of the bound's size through the default MLP: at glibc's default mmap threshold (128 KiB, here
    held fixed: by default glibc raises it when a large block is freed, so a pass faults from 0 to 25,000 pages,
    as measured) every 8 MiB activation is faulted in afresh; once ``configure`` has raised the thresholds, none is.
    Of three passes, the most is counted where many are expected and the fewest where none are: another process's
    load can only add faults, so it cannot fail either."""
    assert max(page_faults("default", MALLOC_MMAP_THRESHOLD_=str(128 << 10))) > 5000
    assert min(page_faults("configure")) < 500
    assert max(page_faults("configure", MALLOC_TRIM_THRESHOLD_=str(128 << 10))) > 5000  # the environment's choice


def test_a_wheel_is_refused_in_one_line_and_the_editable_install_is_setuptools_own():
    """The checkout is the product (train.py and conf/ beside the package): ``pip install .`` would install a
    package that cannot run, so the build backend refuses the wheel; ``pip install -e .`` is setuptools' own."""
    spec = importlib.util.spec_from_file_location("checkout_only", ROOT / "build_backend" / "checkout_only.py")
    backend = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(backend)
    assert PROJECT_BUILD["build-backend"] == "checkout_only" and PROJECT_BUILD["backend-path"] == ["build_backend"]
    with pytest.raises(SystemExit) as stop:
        backend.build_wheel("unused")
    refusal = stop.value.code
    assert refusal.startswith("error: ") and "\n" not in refusal and "pip install -e ." in refusal
    assert backend.build_editable.__module__ == backend.build_sdist.__module__ == "setuptools.build_meta"
