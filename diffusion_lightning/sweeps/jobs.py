"""The one reader of a sweep's jobs, shared by the report, the end-of-sweep check and sweep resuming.

A job is a directory ``<num>_<overrides>/`` that Hydra made (with ``.hydra/overrides.yaml``) and the task filled
(``summary.json``, ``curves.json``, ``figures/``, ``checkpoints/`` with ``last.json`` beside ``last.ckpt``), or a job
of the grid in ``multirun.yaml`` that has no directory yet. A file that cannot be read is named in ``problems`` (one
line each), never rewritten, and the other jobs are read as usual. Reading is cheap and imports neither torch nor
Lightning: a checkpoint's step comes from the JSON written beside it (``AtomicCheckpointIO``)."""

import json
import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml
from hydra.errors import HydraException

from ..training.files import BOUND_PER_T, CURVES, LAST_CHECKPOINT, RUN_INFO, SUMMARY, sidecar
from .grid import grid_jobs

SEED = "seed"
OVERRIDES = ".hydra/overrides.yaml"
SIDECAR = str(sidecar(Path(LAST_CHECKPOINT)))
HYDRA = ".hydra/hydra.yaml"  # written just before overrides.yaml, with the same overrides (hydra.overrides.task)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, where PyYAML has it: ten times faster


@dataclass
class Job:
    """One job of a sweep: its number, its overrides, and what it left (``path`` is None for a grid job that never
    started). ``unreadable`` maps each of its files that could not be read to why."""

    num: int
    overrides: list[str]
    path: Path | None = None
    summary: dict = field(default_factory=dict)
    checkpoint_step: int | None = None  # global_step of last.ckpt, from the last.json beside it
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The job directory's name, or ``job <num>`` for a job that has none."""
        return self.path.name if self.path else f"job {self.num}"

    @property
    def problems(self) -> list[str]:
        """One line per file of the job that could not be read, naming it."""
        return [f"{self.path / name} cannot be read ({reason}); left as it is" for name, reason in
                self.unreadable.items()]

    @property
    def status(self) -> str:
        """finished, failed or interrupted as its summary says; unreadable where its summary (or, outside a known
        grid, its overrides) cannot be read; interrupted also for a job that started (run_info.json or last.ckpt)
        but left no summary, i.e. was killed (a job still running reads the same); else missing."""
        if SUMMARY in self.unreadable or (OVERRIDES in self.unreadable and not self.overrides):
            return "unreadable"
        if self.summary:
            return self.summary.get("status", "missing")
        if self.path and ((self.path / RUN_INFO).is_file() or self.last_checkpoint.is_file()):
            return "interrupted"
        return "missing"

    @property
    def note(self) -> str:
        """Why a job has no result: its error, what is missing, or which file cannot be read."""
        if self.path is None:
            return "never started"
        if self.status == "unreadable":
            return "; ".join(f"{name} cannot be read: {reason}" for name, reason in self.unreadable.items())
        if self.summary:
            return self.summary.get("error", "")
        if self.status == "interrupted":
            if not self.last_checkpoint.is_file():
                return "killed"
            step = self.checkpoint_step
            return "killed: no summary.json, last.ckpt at " + ("an unknown step" if step is None else f"step {step}")
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

    def picture(self, name: str):
        """``figures/<name>.png`` decoded (a PIL image), None where there is none or it cannot be decoded (then
        named in ``unreadable``: a job killed while an older version wrote it in place leaves half a PNG)."""
        from PIL import Image  # only the report's figures need it

        path = self.figure(name)
        if path is None:
            return None
        try:
            image = Image.open(path)
            image.load()
        except (OSError, SyntaxError, ValueError) as error:  # Pillow's "broken PNG file" is a SyntaxError
            self.unreadable[f"figures/{name}.png"] = reason(error)
            return None
        return image

    def read(self, name: str, parse: Callable[[str], object]):
        """The job's file ``name`` parsed, None where there is none or ``parse`` refuses it (then it is named in
        ``unreadable``)."""
        path = self.path / name if self.path else None
        if path is None or not path.is_file():
            return None
        try:
            return parse(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as error:  # JSONDecodeError is a ValueError
            self.unreadable[name] = reason(error)
            return None

    @cached_property
    def curves(self) -> dict:
        """``{"train": [...], "val": [...]}`` rows of the training and validation curves (empty where none)."""
        return self.read(CURVES, json_object) or {}

    @cached_property
    def bound_per_t(self) -> dict:
        """``{"t": [0..T], "bits": [...]}`` (t = 0 is the prior term L_T) where the job wrote it, else empty."""
        return self.read(BOUND_PER_T, json_object) or {}

    @cached_property
    def full_config(self) -> dict[str, object]:
        """The job's ``.hydra/config.yaml`` flattened to dotted keys (empty where there is none)."""
        return flatten(self.read(".hydra/config.yaml", yaml_mapping) or {})

    @property
    def last_checkpoint(self) -> Path:
        return self.path / LAST_CHECKPOINT

    @cached_property
    def checkpoint_problem(self) -> str | None:
        """Why its last.ckpt cannot be loaded, or None (also where there is none). It reads the whole file, so only
        resuming asks."""
        return archive_problem(self.last_checkpoint) if self.last_checkpoint.is_file() else None


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for k, v in tree.items():
        out |= flatten(v, f"{prefix}{k}.") if isinstance(v, dict) and v else {f"{prefix}{k}": v}
    return out


def archive_problem(path: Path) -> str | None:
    """Why a checkpoint cannot be loaded, found without torch: ``torch.save`` writes a zip archive, and a file cut
    short or damaged fails to open as one or fails a member's CRC check; None where it is whole."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        return f"not a whole checkpoint: {reason(error)}"
    return None if bad is None else f"not a whole checkpoint: {bad} fails its CRC check"


def job_number(path: Path) -> int | None:
    head = path.name.split("_", 1)[0]
    return int(head) if head.isdigit() else None


def reason(error: Exception) -> str:
    """Why a file could not be read, in one line (YAML's own messages run over several)."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"not YAML: {error.problem} at line {mark.line + 1}, column {mark.column + 1}"
    if isinstance(error, json.JSONDecodeError):
        return f"not JSON: {error}"
    return " ".join(str(error).split())


def json_object(text: str) -> dict:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def yaml_mapping(text: str) -> dict:
    value = yaml.load(text, Loader=LOADER) or {}
    if not isinstance(value, dict):
        raise ValueError("not a YAML mapping")
    return value


def as_overrides(value) -> list[str]:
    if not (isinstance(value, list) and all(isinstance(o, str) for o in value)):
        raise ValueError("not a YAML list of overrides")
    return value


def override_list(text: str) -> list[str]:
    return as_overrides(yaml.load(text, Loader=LOADER) or [])


def recorded_overrides(text: str) -> list[str]:
    """``hydra.overrides.task`` of a job's ``.hydra/hydra.yaml``."""
    return as_overrides(((yaml_mapping(text).get("hydra") or {}).get("overrides") or {}).get("task") or [])


def step_of(text: str) -> int:
    step = json_object(text).get("global_step")
    if not isinstance(step, int):
        raise ValueError("no whole-number global_step")
    return step


def read_job(job_dir: Path, grid: list[list[str]] | None = None) -> Job:
    """The job in ``job_dir`` (a ``<num>_<overrides>/`` directory with ``.hydra/overrides.yaml``); where its
    overrides cannot be read, those that its ``.hydra/hydra.yaml`` records, else those of its number in ``grid``
    (the sweep's, when known)."""
    num = job_number(job_dir)
    job = Job(-1 if num is None else num, [], job_dir)
    overrides, recorded = job.read(OVERRIDES, override_list), job.read(HYDRA, recorded_overrides)
    if None not in (overrides, recorded) and overrides != recorded:  # YAML cut short is often still YAML
        job.unreadable[OVERRIDES] = f"not the overrides that {HYDRA} records: cut short?"
        overrides = None
    if overrides is None:
        overrides = recorded if recorded is not None else grid[job.num] if 0 <= job.num < len(grid or []) else []
    job.overrides = overrides
    job.summary = job.read(SUMMARY, json_object) or {}
    job.checkpoint_step = job.read(SIDECAR, step_of)  # none for a checkpoint of an older version
    return job


def read_grid(sweep_dir: Path) -> tuple[list[list[str]] | None, str | None]:
    """Every job of the grid that ``multirun.yaml`` describes, in job-number order (None where they are not known
    before they run, e.g. for Optuna), and a line naming the file where it cannot be read."""
    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return None, None
    try:
        hydra = yaml_mapping(path.read_text()).get("hydra")
        return (grid_jobs(hydra) if isinstance(hydra, dict) else None), None
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError, HydraException) as error:
        return None, f"{path} cannot be read ({reason(error)}); left as it is"


class Jobs(list[Job]):
    """A sweep's jobs in job-number order, with the grid of its ``multirun.yaml`` (None where unknown) and why that
    file could not be read (``grid_problem``)."""

    grid: list[list[str]] | None = None
    grid_problem: str | None = None

    @property
    def problems(self) -> list[str]:
        """One line per file of the sweep that could not be read, naming it (the jobs' files read so far)."""
        return [line for line in [self.grid_problem] if line] + [line for job in self for line in job.problems]


def read_jobs(sweep_dir: Path) -> Jobs:
    """The jobs of ``sweep_dir`` in job-number order: those with a directory, and grid jobs without one (missing)."""
    grid, grid_problem = read_grid(sweep_dir)
    made = {}
    for path in sweep_dir.iterdir():
        num = job_number(path)
        if num is not None and path.is_dir() and (path / OVERRIDES).is_file():
            made[num] = read_job(path, grid)
    jobs = Jobs(made.get(num) or Job(num, overrides) for num, overrides in enumerate(grid or []))
    jobs += sorted((job for num, job in made.items() if num >= len(grid or [])), key=lambda job: job.num)
    jobs.grid, jobs.grid_problem = grid, grid_problem
    return jobs
