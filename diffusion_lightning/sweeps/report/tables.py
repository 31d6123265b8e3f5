"""The report's tables: per configuration (mean ± std over seeds, 95% interval, paired difference to the best, gap
to the true NLL) and per job (overrides, final metrics, status and error), as Markdown and CSV; the page shows the
same cells."""

import csv
import math
from pathlib import Path

from ...training.files import written_whole
from ..jobs import Job
from .stats import Estimate
from .sweep import SORT_METRICS, STATUSES, Group, Sweep, gap


def estimate_cell(e: Estimate) -> str:
    """``mean ± std (n = k)``; a single run shows its value and says n = 1."""
    if e.n == 0:
        return "—"
    return f"{e.mean:.4g} (n = 1)" if e.n == 1 else f"{e.mean:.4g} ± {e.std:.2g} (n = {e.n})"


def interval_cell(e: Estimate) -> str:
    return "—" if e.ci95 is None else f"[{e.mean - e.ci95:.4g}, {e.mean + e.ci95:.4g}]"


def paired_text(d: Estimate) -> str:
    """A paired difference over n ≥ 2 seeds: ``+mean ± 95% half-width (n = k)``."""
    return f"{d.mean:+.3g} ± {d.ci95:.2g} (n = {d.n})"


def difference_cell(group: Group, best: Group) -> str:
    d = group.difference
    if group is best:
        return "best" if d is None and group.estimate.n else "—"
    if d is None or d.n == 0:
        return "—" if d is None else "no shared seeds"
    return f"{d.mean:+.3g} (n = 1)" if d.n == 1 else paired_text(d)


def verdict(d: Estimate) -> str:
    return "yes" if d.distinguishable else "no"


def verdict_cell(group: Group) -> str:
    """Whether the paired difference to the best tells them apart at this n."""
    d = group.difference
    if d is None or d.n == 0:
        return ""
    return "n = 1: cannot tell" if d.n == 1 else verdict(d)


def above_cell(group: Group) -> str:
    """The paired difference to the configuration ranked just above, and whether it tells them apart."""
    d = group.difference_above
    if d is None or d.n == 0:
        return "" if d is None else "no shared seeds"
    return f"{d.mean:+.3g} (n = 1: cannot tell)" if d.n == 1 else f"{paired_text(d)}: {verdict(d)}"


def counts_cell(group: Group) -> str:
    return ", ".join(f"{k} {s}" for s in STATUSES[1:] if (k := group.count(s))) or "—"


def group_rows(sweep: Sweep, groups: list[Group]) -> list[list[str]]:
    """Header and one row per group, best first."""
    with_gap = any(g.gap.n for g in groups)
    header = ["rank", *groups[0].config, f"{sweep.metric} mean ± std (n)", "95% interval",
              "Δ to best (paired, ± 95%)", "distinguishable", "Δ to the rank above: distinguishable",
              *(["gap to true NLL"] if with_gap else []), "not finished"]
    rows = [header]
    for i, group in enumerate(groups, 1):
        rows.append([str(i), *group.config.values(), estimate_cell(group.estimate), interval_cell(group.estimate),
                     difference_cell(group, groups[0]), verdict_cell(group), above_cell(group),
                     *([estimate_cell(group.gap)] if with_gap else []), counts_cell(group)])
    return rows


def metric_columns(sweep: Sweep) -> list[str]:
    """The job table's metrics: the sort metric, the bounds and the data's true NLL, sample scores, steps, time
    (standard errors are shown beside their bound; per-batch ``train/*`` values are left to the CSV)."""
    present = {k for job in sweep.jobs for k, v in job.summary.items() if isinstance(v, (int, float))}
    wanted = [sweep.metric, *SORT_METRICS, "true_nll_bits", *sorted(k for k in present if k.startswith("samples/")),
              "step", "wall_time_s"]
    return [k for i, k in enumerate(wanted) if k in present and k not in wanted[:i]]


def job_cell(job: Job, metric: str) -> str:
    v = job.value(metric)
    if math.isnan(v):
        return "—" if metric not in job.summary else "nan"
    if metric in ("step", "wall_time_s"):
        return f"{v:.0f}"
    se = job.value(metric.replace("_bits", "_se_bits"))
    return f"{v:.4g} ± {se:.2g}" if metric.endswith("nll_bound_bits") and not math.isnan(se) else f"{v:.4g}"


def job_rows(sweep: Sweep) -> list[list[str]]:
    """Header and one row per job, best first: rank, number, status, swept values, metrics, error or why none."""
    header = ["rank", "job", "status", *sweep.keys, *metric_columns(sweep), "note"]
    rows = [header]
    for i, job in enumerate(sweep.jobs, 1):
        rows.append([str(i), str(job.num), job.status, *(job.config.get(k, "") for k in sweep.keys),
                     *(job_cell(job, m) for m in header[3 + len(sweep.keys):-1]), " ".join(job.note.split())[:160]])
    return rows


def markdown(sweep: Sweep) -> str:
    """``report.md``: the summary line, the configurations best first, then every job."""

    def line(row):
        return "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"

    def table(rows):
        return [line(rows[0]), line(["---"] * len(rows[0])), *map(line, rows[1:])]

    counts = ", ".join(f"{n} {s}" for s in STATUSES if (n := sum(job.status == s for job in sweep.jobs)))
    groups = sweep.groups()
    return "\n".join([
        f"Sweep `{sweep.path.name}`: {len(sweep.jobs)} jobs ({counts}); `{sweep.metric}` in bits, lower is better.",
        f"Overrides common to all jobs: `{' '.join(sweep.common) or 'none'}`.", "",
        (f"**Configurations** ({len(groups)}), best mean first. Statistics are over the seeds that finished; Δ to "
        "best and Δ to the rank above are paired over the seeds both ran (mean ± 95% half-width), distinguishable "
        "when the interval excludes 0."), "",
        *table(group_rows(sweep, groups)), "",
        "**Jobs**, best first.", "",
        *table(job_rows(sweep)),
    ]) + "\n"


def write_csv(sweep: Sweep, path: Path) -> None:
    """``report.csv``: every job with its swept values as columns and every number of its summary, best first."""
    keys = sorted({k for job in sweep.jobs for k in job.summary} - {"status", "error"})
    with written_whole(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["rank", "job", "status", *sweep.keys, *keys, "gap_bits", "note"])
        for i, job in enumerate(sweep.jobs, 1):
            g = gap(job, sweep.metric)
            writer.writerow([i, job.name, job.status, *(job.config.get(k, "") for k in sweep.keys),
                             *(job.summary.get(k, "") for k in keys), "" if math.isnan(g) else g, job.note])
