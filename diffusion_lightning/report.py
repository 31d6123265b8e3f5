"""Compare the jobs of one sweep, offline and without W&B: ``python -m diffusion_lightning.report <sweep dir>``.

Reads each job directory that Hydra made (``<num>_<overrides>/`` with ``.hydra/overrides.yaml``, and the
``summary.json`` and ``curves.json`` that the task leaves) and writes, into the sweep directory (or ``--out``):
``report.md`` and ``report.csv`` (one row per job, best first), ``curves.png`` (bound curves overlaid),
``samples_grid.png``, ``forward_grid.png`` and ``reverse_grid.png`` (each job's figure, one panel per job) and
``report.html``, one self-contained page assembling them. Failed jobs, and jobs with no summary or that never
started (grid jobs of ``multirun.yaml`` with no directory), are listed as such, last, never dropped.
"""

import argparse
import csv
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SORT_METRICS = ("test/nll_bound_bits", "val/nll_bound_bits")  # the first that any job reports sorts the table
FIGURES = {"samples_grid": "samples", "forward_grid": "forward_process", "reverse_grid": "reverse_process"}


class NotASweep(ValueError):
    """The directory given holds no job of a sweep."""


@dataclass
class Job:
    """One job of a sweep: its number, overrides, and what it left (``status`` missing when it left no summary)."""

    num: int
    overrides: list[str]
    path: Path | None = None                      # None: the grid had this job, but it never started
    summary: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.summary.get("status", "missing")

    @property
    def note(self) -> str:
        """Why a job has no result: its error, or what is missing."""
        if self.path is None:
            return "never started"
        if not self.summary:
            return "no summary.json (killed, or still running)"
        return self.summary.get("error", "")

    def figure(self, name: str) -> Path | None:
        path = self.path / "figures" / f"{name}.png" if self.path else None
        return path if path and path.is_file() else None


def read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def job_number(path: Path) -> int | None:
    head = path.name.split("_", 1)[0]
    return int(head) if head.isdigit() else None


def grid_overrides(sweep_dir: Path) -> list[list[str]]:
    """Every job of the grid that ``multirun.yaml`` describes, in job-number order, as Hydra's basic sweeper
    expands it; empty for other sweepers (e.g. Optuna), whose jobs are known only once they ran."""
    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return []
    hydra = yaml.safe_load(path.read_text())["hydra"]
    if not hydra["sweeper"]["_target_"].endswith("BasicSweeper"):
        return []
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = [f"{k}={v}" for k, v in (hydra["sweeper"].get("params") or {}).items()]
    overrides = OverridesParser.create().parse_overrides(params + hydra["overrides"]["task"])
    return [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]


def load_sweep(sweep_dir: Path) -> list[Job]:
    """The jobs of ``sweep_dir``, in job-number order: those with a directory, then grid jobs without one."""
    jobs = {}
    for path in sweep_dir.iterdir():
        num = job_number(path)
        if num is None or not path.is_dir() or not (path / ".hydra" / "overrides.yaml").is_file():
            continue
        overrides = yaml.safe_load((path / ".hydra" / "overrides.yaml").read_text()) or []
        jobs[num] = Job(num, overrides, path, read_json(path / "summary.json"), read_json(path / "curves.json"))
    for num, overrides in enumerate(grid_overrides(sweep_dir)):
        jobs.setdefault(num, Job(num, overrides))
    return [jobs[num] for num in sorted(jobs)]


def split_overrides(jobs: list[Job]) -> tuple[list[str], list[str]]:
    """Overrides shared by every job, and the keys whose values differ between jobs (the table's columns)."""
    common = [o for o in jobs[0].overrides if all(o in job.overrides for job in jobs)]
    keys = []
    for job in jobs:
        keys += [o.split("=", 1)[0] for o in job.overrides if o not in common and o.split("=", 1)[0] not in keys]
    return common, keys


def override_values(job: Job) -> dict[str, str]:
    return dict(o.split("=", 1) if "=" in o else (o, "") for o in job.overrides)


def label(job: Job, keys: list[str]) -> str:
    """What sets a job apart from the others, e.g. ``optimizer=sgd, optimizer.lr=0.0001``."""
    values = override_values(job)
    return ", ".join(f"{k}={values[k]}" for k in keys if k in values) or f"job {job.num}"


def value(job: Job, metric: str) -> float:
    v = job.summary.get(metric)
    return float(v) if isinstance(v, (int, float)) else math.nan


def rank(jobs: list[Job], metric: str) -> list[Job]:
    """Best first: finished jobs by ``metric`` (those without it after them), then failed, interrupted, missing."""
    order = ("finished", "failed", "interrupted", "missing")

    def key(job: Job):
        v = value(job, metric)
        return order.index(job.status) if job.status in order else 2, math.isnan(v), 0.0 if math.isnan(v) else v

    return sorted(jobs, key=key)


def sort_metric(jobs: list[Job]) -> str:
    return next((m for m in SORT_METRICS if any(m in job.summary for job in jobs)), SORT_METRICS[0])


def metric_columns(jobs: list[Job], metric: str) -> list[str]:
    """The table's metrics: the sort metric, the bounds and the data's true NLL, sample scores, steps, time
    (standard errors are shown beside their bound; per-batch ``train/*`` values are left to the CSV)."""
    present = {k for job in jobs for k, v in job.summary.items() if isinstance(v, (int, float))}
    wanted = [metric, *SORT_METRICS, "true_nll_bits", *sorted(k for k in present if k.startswith("samples/")),
              "step", "wall_time_s"]
    return [k for i, k in enumerate(wanted) if k in present and k not in wanted[:i]]


def cell(job: Job, metric: str) -> str:
    v = value(job, metric)
    if math.isnan(v):
        return "—" if metric not in job.summary else "nan"
    if metric in ("step", "wall_time_s"):
        return f"{v:.0f}"
    se = value(job, metric.replace("_bits", "_se_bits"))
    return f"{v:.4g} ± {se:.2g}" if metric.endswith("nll_bound_bits") and not math.isnan(se) else f"{v:.4g}"


@dataclass
class Report:
    """A sweep's jobs, best first, with what the table shows of them."""

    sweep_dir: Path
    jobs: list[Job]
    metric: str
    common: list[str]
    keys: list[str]
    columns: list[str]

    @classmethod
    def of(cls, sweep_dir: Path, metric: str | None = None) -> "Report":
        jobs = load_sweep(sweep_dir)
        if not jobs:
            raise NotASweep(f"{sweep_dir} holds no job directories (<num>_<overrides>/.hydra/overrides.yaml); "
                             "give the directory of a `python train.py -m ...` sweep")
        metric = metric or sort_metric(jobs)
        common, keys = split_overrides(jobs)
        return cls(sweep_dir, rank(jobs, metric), metric, common, keys, metric_columns(jobs, metric))

    def label(self, job: Job) -> str:
        return label(job, self.keys)

    def rows(self) -> list[list[str]]:
        """Header and one row per job, as the Markdown and HTML tables show them."""
        header = ["rank", "job", "status", *self.keys, *self.columns, "note"]
        rows = [header]
        for i, job in enumerate(self.jobs, 1):
            values = override_values(job)
            rows.append([str(i), str(job.num), job.status,
                         *(values.get(k, "") for k in self.keys), *(cell(job, m) for m in self.columns),
                         " ".join(job.note.split())[:160]])
        return rows

    def markdown(self) -> str:
        def line(row):
            return "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"

        header, *rows = self.rows()
        done = sum(job.status == "finished" for job in self.jobs)
        lines = [(f"Sweep `{self.sweep_dir.name}`: {len(self.jobs)} jobs, {done} finished; best first by "
                  f"`{self.metric}` (bits, lower is better)."),
                 f"Overrides common to all jobs: `{' '.join(self.common) or 'none'}`.", "",
                 line(header), line(["---"] * len(header)), *map(line, rows)]
        return "\n".join(lines) + "\n"

    def write_csv(self, path: Path) -> None:
        """Every job with its overrides as columns and every number of its summary, best first."""
        keys = sorted({k for job in self.jobs for k in job.summary} - {"status", "error"})
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["rank", "job", "status", *self.keys, *keys, "note"])
            for i, job in enumerate(self.jobs, 1):
                values = override_values(job)
                writer.writerow([i, job.path.name if job.path else job.num, job.status,
                                 *(values.get(k, "") for k in self.keys), *(job.summary.get(k, "") for k in keys),
                                 job.note])


def write_report(sweep_dir: Path, out: Path, metric: str | None = None) -> Report:
    """Every file of the report in ``out``; returns the report (its Markdown is ``report.markdown()``)."""
    from .report_figures import curves_figure, image_grid, save
    from .report_html import html_page

    report = Report.of(sweep_dir, metric)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(report.markdown())
    report.write_csv(out / "report.csv")
    figures = {"curves": curves_figure(report.jobs, report.label)}
    figures |= {grid: image_grid(report.jobs, name, report.label, report.metric) for grid, name in FIGURES.items()}
    for name, fig in figures.items():
        save(fig, out / f"{name}.png")
    (out / "report.html").write_text(html_page(report, {name: out / f"{name}.png" for name in figures}))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diffusion_lightning.report", description=__doc__.split("\n")[0])
    parser.add_argument("sweep_dir", type=Path, help="a sweep directory, e.g. multirun_outputs/<sweep>")
    parser.add_argument("--out", type=Path, help="where to write the report (default: the sweep directory)")
    parser.add_argument("--metric", help=f"summary key to sort by, lowest first (default: {' or '.join(SORT_METRICS)})")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"error: {args.sweep_dir} is not a directory; give a sweep directory, e.g. multirun_outputs/<sweep>",
              file=sys.stderr)
        return 1
    try:
        report = write_report(args.sweep_dir, args.out or args.sweep_dir, args.metric)
    except NotASweep as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(report.markdown())
    print(f"report written to {(args.out or args.sweep_dir) / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
