"""The report's tables: per configuration (mean ± std over seeds, 95% interval, paired difference to the best, gap
to the true NLL) and per job (overrides, final metrics, status and error), as Markdown and CSV; the page shows the
same cells. Each column shows its numbers with one number of decimals, set by how precise the column is."""

import csv
import math
import statistics
from pathlib import Path

from ...training.files import written_whole
from ..jobs import Job
from .stats import Estimate
from .sweep import SORT_METRICS, STATUSES, Group, Sweep, gap, is_gap, truth_key

SPREAD_DIGITS = 2  # significant digits of a column's smallest spread (std, standard error, 95% half-width, floor)
VALUE_DIGITS = 4  # significant digits of a column's largest value, where no spread says how precise it is
COUNTS = ("step", "wall_time_s")  # whole numbers
GAP = "gap"


def decimals(values: list[float | None], spreads: list[float | None] = ()) -> int:
    """The decimals of one column, the same in every row: two significant digits of its smallest spread, or four of
    its largest value where it has none (a spread never asks for more than two decimals past those four)."""
    values = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    spreads = [abs(s) for s in spreads if s is not None and math.isfinite(s) and s != 0]
    base = max(0, VALUE_DIGITS - 1 - magnitude(max(values))) if values else VALUE_DIGITS - 1
    if not spreads:
        return base
    return min(max(0, SPREAD_DIGITS - 1 - magnitude(min(spreads))), base + 2)


def magnitude(x: float) -> int:
    """The power of ten of x's first digit, 0.1 computed as 0.09999… included (-1)."""
    return math.floor(math.log10(x) + 1e-9)


def group_decimals(groups: list[Group]) -> dict[str, int]:
    """Decimals of the configuration table's columns: the estimate (its interval too) and the gap by their stds, the
    paired differences by their 95% half-widths."""

    def column(estimates: list[Estimate | None], spread: str) -> int:
        shown = [e for e in estimates if e is not None and e.n]
        return decimals([e.mean for e in shown], [getattr(e, spread) for e in shown])

    return {"estimate": column([g.estimate for g in groups], "std"), GAP: column([g.gap for g in groups], "std"),
            "difference": column([g.difference for g in groups], "ci95"),
            "above": column([g.difference_above for g in groups], "ci95")}


def estimate_cell(e: Estimate, d: int) -> str:
    """``mean ± std (n = k)`` with ``d`` decimals; a single run shows its value and says n = 1."""
    if e.n == 0:
        return "—"
    return f"{e.mean:.{d}f} (n = 1)" if e.n == 1 else f"{e.mean:.{d}f} ± {e.std:.{d}f} (n = {e.n})"


def interval_cell(e: Estimate, d: int) -> str:
    return "—" if e.ci95 is None else f"[{e.mean - e.ci95:.{d}f}, {e.mean + e.ci95:.{d}f}]"


def paired_text(diff: Estimate, d: int) -> str:
    """A paired difference over n ≥ 2 seeds: ``+mean ± 95% half-width (n = k)``."""
    return f"{diff.mean:+.{d}f} ± {diff.ci95:.{d}f} (n = {diff.n})"


def difference_cell(group: Group, best: Group, d: int) -> str:
    diff = group.difference
    if group is best:
        return "best" if diff is None and group.estimate.n else "—"
    if diff is None or diff.n == 0:
        return "—" if diff is None else "no shared seeds"
    return f"{diff.mean:+.{d}f} (n = 1)" if diff.n == 1 else paired_text(diff, d)


def verdict(d: Estimate) -> str:
    return "yes" if d.distinguishable else "no"


def verdict_cell(group: Group) -> str:
    """Whether the paired difference to the best tells them apart at this n."""
    d = group.difference
    if d is None or d.n == 0:
        return ""
    return "n = 1: cannot tell" if d.n == 1 else verdict(d)


def above_cell(group: Group, d: int) -> str:
    """The paired difference to the configuration ranked just above, and whether it tells them apart."""
    diff = group.difference_above
    if diff is None or diff.n == 0:
        return "" if diff is None else "no shared seeds"
    return f"{diff.mean:+.{d}f} (n = 1: cannot tell)" if diff.n == 1 else f"{paired_text(diff, d)}: {verdict(diff)}"


def counts_cell(group: Group) -> str:
    return ", ".join(f"{k} {s}" for s in STATUSES[1:] if (k := group.count(s))) or "—"


def group_rows(sweep: Sweep, groups: list[Group]) -> list[list[str]]:
    """Header and one row per group, best first."""
    with_gap = any(g.gap.n for g in groups) and not is_gap(sweep.metric)
    sides = bound_and_truth(sweep.metric)  # a gap's two terms beside it
    d = group_decimals(groups)
    side_estimates = {k: [Estimate.of([job.value(k) for job in g.counted(sweep.metric)]) for g in groups]
                      for k in sides}
    side_decimals = {k: decimals([e.mean for e in es if e.n], [e.std for e in es if e.n])
                     for k, es in side_estimates.items()}
    header = ["rank", *groups[0].config, f"{sweep.metric} mean ± std (n)", "95% interval",
              "Δ to best (paired, ± 95%)", "distinguishable", "Δ to the rank above: distinguishable",
              *(["gap to true NLL"] if with_gap else []), *(f"{k} mean ± std (n)" for k in sides), "not finished"]
    rows = [header]
    for i, group in enumerate(groups, 1):
        rows.append([str(i), *group.config.values(), estimate_cell(group.estimate, d["estimate"]),
                     interval_cell(group.estimate, d["estimate"]), difference_cell(group, groups[0], d["difference"]),
                     verdict_cell(group), above_cell(group, d["above"]),
                     *([estimate_cell(group.gap, d[GAP])] if with_gap else []),
                     *(estimate_cell(side_estimates[k][i - 1], side_decimals[k]) for k in sides),
                     counts_cell(group)])
    return rows


def bound_and_truth(metric: str) -> list[str]:
    """The bound and the true NLL of a gap metric (``test/gap_bits``: the test bound and its true NLL); none else."""
    split = metric.split("/")[0] + "/" if "/" in metric else ""
    return [f"{split}nll_bound_bits", truth_key(metric)] if is_gap(metric) else []


def metric_columns(sweep: Sweep) -> list[str]:
    """The job table's metrics: the sort metric, the bounds and the data's true NLL, sample scores, steps, time
    (standard errors are shown beside their bound; per-batch ``train/*`` values are left to the CSV)."""
    present = {k for job in sweep.jobs for k, v in job.summary.items() if isinstance(v, (int, float))}
    wanted = [sweep.metric, *SORT_METRICS, "true_nll_bits", *sorted(k for k in present if k.startswith("samples/")),
              *COUNTS]
    return [k for i, k in enumerate(wanted) if k in present and k not in wanted[:i]]


def standard_error(metric: str) -> str | None:
    """The summary key of a bound's standard error (None for other metrics)."""
    return metric.replace("_bits", "_se_bits") if metric.endswith("nll_bound_bits") else None


def job_decimals(sweep: Sweep, columns: list[str]) -> dict[str, int]:
    """Decimals of the job table's columns: one for every column in bits (bounds, true NLL, gap), from the bounds and
    their standard errors; a sample score its own, from its values and the size of its noise floor (``<score>_floor``,
    each job's one draw of the score's chance spread: their root mean square) where it has one; none for steps and
    seconds."""

    def values(key: str | None) -> list[float]:
        return [job.value(key) for job in sweep.jobs] if key else []

    bits = [c for c in columns if c.endswith("_bits")]
    bounds = [c for c in bits if standard_error(c)] or bits
    d_bits = decimals([v for c in bounds for v in values(c)], [v for c in bounds for v in values(standard_error(c))])
    out = {**{c: d_bits for c in bits}, GAP: d_bits, **{c: 0 for c in COUNTS}}
    for c in columns:
        if c not in out:
            score = c.removesuffix("_floor")
            floors = [f for f in values(f"{score}_floor") if math.isfinite(f)]
            size = [math.sqrt(statistics.fmean(f * f for f in floors))] if floors else []
            out[c] = decimals(values(score) + floors, size)
    return out


def job_cell(job: Job, metric: str, d: int) -> str:
    v = job.value(metric)
    if math.isnan(v):
        return "—" if metric not in job.summary else "nan"
    se = job.value(standard_error(metric)) if standard_error(metric) else math.nan
    return f"{v:.{d}f}" if math.isnan(se) else f"{v:.{d}f} ± {se:.{d}f}"


def gap_cell(job: Job, metric: str, d: int) -> str:
    return "" if math.isnan(g := gap(job, metric)) else f"{g:.{d}f}"


def job_rows(sweep: Sweep) -> list[list[str]]:
    """Header and one row per job, best first: rank, number, status, swept values, metrics, error or why none."""
    columns = metric_columns(sweep)
    d = job_decimals(sweep, columns)
    header = ["rank", "job", "status", *sweep.keys, *columns, "note"]
    rows = [header]
    for i, job in enumerate(sweep.jobs, 1):
        rows.append([str(i), str(job.num), job.status, *(job.config.get(k, "") for k in sweep.keys),
                     *(job_cell(job, m, d[m]) for m in columns), " ".join(job.note.split())[:160]])
    return rows


def markdown(sweep: Sweep) -> str:
    """``report.md``: the summary line, the configurations best first, then every job."""

    def line(row):
        return "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"

    def table(rows):
        return [line(rows[0]), line(["---"] * len(rows[0])), *map(line, rows[1:])]

    counts = ", ".join(f"{n} {s}" for s in STATUSES if (n := sum(job.status == s for job in sweep.jobs)))
    groups = sweep.groups()
    why = (" Ranked by the gap, bound − true NLL: the data is one of the swept keys, so the bounds of different jobs "
           "are on different data and do not compare; their gaps do." if is_gap(sweep.metric) else "")
    return "\n".join([
        f"Sweep `{sweep.path.name}`: {len(sweep.jobs)} jobs ({counts}); `{sweep.metric}` in bits, lower is better.{why}",
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
