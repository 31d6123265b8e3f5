"""The one reader of a sweep's jobs, shared by the report, the end-of-sweep check and sweep resuming.

A job is a directory ``<num>_<overrides>/`` that Hydra made (with ``.hydra/overrides.yaml``) and the task filled
(``summary.json``, ``curves.json``, ``figures/``, ``checkpoints/``), or a job of the grid in ``multirun.yaml`` that
has no directory yet. Reading is cheap and imports neither torch nor Lightning."""

import io
import itertools
import json
import math
import pickle
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

SEED = "seed"


@dataclass
class Job:
    """One job of a sweep: its number, its overrides, and what it left (``path`` is None for a grid job that never
    started)."""

    num: int
    overrides: list[str]
    path: Path | None = None
    summary: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The job directory's name, or ``job <num>`` for a job that has none."""
        return self.path.name if self.path else f"job {self.num}"

    @property
    def status(self) -> str:
        """finished, failed or interrupted as its summary says; interrupted also for a job that started (run_info.json
        or last.ckpt) but left no summary, i.e. was killed (a job still running reads the same); else missing."""
        if self.summary:
            return self.summary.get("status", "missing")
        if self.path and ((self.path / "run_info.json").is_file() or self.last_checkpoint.is_file()):
            return "interrupted"
        return "missing"

    @property
    def note(self) -> str:
        """Why a job has no result: its error, or what is missing."""
        if self.path is None:
            return "never started"
        if self.summary:
            return self.summary.get("error", "")
        if self.status == "interrupted":
            step = self.checkpoint_step
            return "killed" + ("" if step is None else f": no summary.json, last.ckpt at step {step}")
        return "no summary.json (never ran, or still starting)"

    @property
    def config(self) -> dict[str, str]:
        """Its overrides as key → value, seed included (the sweep's swept keys are those that differ between jobs)."""
        return dict(o.split("=", 1) if "=" in o else (o, "") for o in self.overrides)

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        """Its configuration without the seed: jobs with equal keys are runs of one configuration."""
        return tuple(sorted((k, v) for k, v in self.config.items() if k != SEED))

    def value(self, metric: str) -> float:
        """A summary number, NaN where it has none."""
        v = self.summary.get(metric)
        return float(v) if isinstance(v, (int, float)) else math.nan

    def figure(self, name: str) -> Path | None:
        path = self.path / "figures" / f"{name}.png" if self.path else None
        return path if path and path.is_file() else None

    @cached_property
    def bound_per_t(self) -> dict:
        """``{"t": [0..T], "bits": [...]}`` (t = 0 is the prior term L_T) where the job wrote it, else empty."""
        return read_json(self.path / "bound_per_t.json") if self.path else {}

    @cached_property
    def full_config(self) -> dict[str, object]:
        """The job's ``.hydra/config.yaml`` flattened to dotted keys (empty where there is none)."""
        path = self.path / ".hydra" / "config.yaml" if self.path else None
        return flatten(yaml.safe_load(path.read_text()) or {}) if path and path.is_file() else {}

    @property
    def last_checkpoint(self) -> Path:
        return self.path / "checkpoints" / "last.ckpt"

    @cached_property
    def checkpoint_step(self) -> int | None:
        """``global_step`` of ``last.ckpt``, read from its pickle without torch (tensors are not loaded)."""
        try:
            with zipfile.ZipFile(self.last_checkpoint) as archive:
                name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
                step = _Skeleton(io.BytesIO(archive.read(name))).load().get("global_step")
        except (OSError, StopIteration, zipfile.BadZipFile, pickle.UnpicklingError, AttributeError, EOFError):
            return None
        return step if isinstance(step, int) else None


class _Stub:
    """Stands for any object of a checkpoint other than plain containers: accepts and forgets its contents."""

    def __init__(self, *args, **kwargs): ...
    def __setstate__(self, state): ...
    def __setitem__(self, key, value): ...
    def append(self, item): ...
    def extend(self, items): ...


class _Dict(dict):
    """An OrderedDict of the checkpoint (torch gives state dicts attributes, e.g. ``_metadata``)."""


class _Skeleton(pickle.Unpickler):
    """Unpickles a torch checkpoint's ``data.pkl`` into its dicts, lists and numbers, every other object a
    ``_Stub``: no code of the file's classes runs, and no tensor storage is read."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return _Dict
        return type(name, (_Stub,), {})

    def persistent_load(self, pid):
        return None


def read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for k, v in tree.items():
        out |= flatten(v, f"{prefix}{k}.") if isinstance(v, dict) and v else {f"{prefix}{k}": v}
    return out


def job_number(path: Path) -> int | None:
    head = path.name.split("_", 1)[0]
    return int(head) if head.isdigit() else None


def read_job(job_dir: Path) -> Job:
    """The job in ``job_dir`` (a ``<num>_<overrides>/`` directory with ``.hydra/overrides.yaml``)."""
    overrides = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    return Job(job_number(job_dir), overrides, job_dir, read_json(job_dir / "summary.json"),
               read_json(job_dir / "curves.json"))


def grid_overrides(sweep_dir: Path) -> list[list[str]]:
    """Every job of the grid that ``multirun.yaml`` describes, in job-number order; empty for other sweepers (e.g.
    Optuna), whose jobs are known only once they ran."""
    path = sweep_dir / "multirun.yaml"
    hydra = yaml.safe_load(path.read_text()).get("hydra", {}) if path.is_file() else {}
    return expand_grid(hydra.get("sweeper") or {}, (hydra.get("overrides") or {}).get("task") or []) or []


def expand_grid(sweeper: dict, task: list[str]) -> list[list[str]] | None:
    """The jobs Hydra's basic sweeper launches for its config ``sweeper`` (``params``) and the command line's
    overrides ``task``, in job-number order, as it expands them: the product of the swept values, in the order the
    keys come, a later override of a key replacing an earlier one. None for another sweeper, or a grid that is not
    a plain list of values."""
    if not str(sweeper.get("_target_", "")).endswith("BasicSweeper"):
        return None
    params = [f"{k}={v}" for k, v in (sweeper.get("params") or {}).items()]
    try:
        overrides = OverridesParser.create().parse_overrides(params + list(task))
    except HydraException:
        return None
    choices = {}
    for o in overrides:
        key = o.get_key_element()
        if o.is_sweep_override() and not o.is_discrete_sweep():
            return None
        choices[key] = ([f"{key}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override()
                        else [f"{key}={o.get_value_element_as_str()}"])
    return [list(job) for job in itertools.product(*choices.values())]


def read_jobs(sweep_dir: Path) -> list[Job]:
    """The jobs of ``sweep_dir`` in job-number order: those with a directory, and grid jobs without one (missing)."""
    jobs = {}
    for path in sweep_dir.iterdir():
        num = job_number(path)
        if num is not None and path.is_dir() and (path / ".hydra" / "overrides.yaml").is_file():
            jobs[num] = read_job(path)
    for num, overrides in enumerate(grid_overrides(sweep_dir)):
        jobs.setdefault(num, Job(num, overrides))
    return [jobs[num] for num in sorted(jobs)]
