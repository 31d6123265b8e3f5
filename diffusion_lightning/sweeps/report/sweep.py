"""A sweep read for comparison: its jobs best first, the keys it swept, and its jobs grouped into configurations
(every swept key but the seed, or any subset of them) with mean ± std over seeds and paired differences to the best.
Refuses, in one line, a directory with no jobs or with jobs that cannot be compared (other metrics, other data), and
a metric that no job reports."""

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..jobs import OVERRIDES, SEED, Job, read_jobs
from .stats import Estimate, paired

SORT_METRICS = ("test/nll_bound_bits", "val/nll_bound_bits")  # the first that any job reports sorts the table
GAP_METRIC = "test/gap_bits"  # bound − true NLL: sorts a sweep over data, whose bounds do not compare (toy_suite)
STATUSES = ("finished", "failed", "interrupted", "unreadable", "missing")
TRUE_NLL_TOLERANCE = 0.1  # relative spread of true NLLs beyond which jobs with no config are on different data


class ReportError(ValueError):
    """A directory the report cannot compare: no jobs, or jobs of different metrics or data."""


def rank(jobs: list[Job], metric: str) -> list[Job]:
    """Best first: finished jobs by ``metric`` (those without it after them), then failed, interrupted, unreadable,
    missing."""

    def key(job: Job):
        v = job.value(metric)
        return STATUSES.index(job.status) if job.status in STATUSES else 2, math.isnan(v), 0.0 if math.isnan(v) else v

    return sorted(jobs, key=key)


def truth_key(metric: str) -> str:
    """The summary key of the data's true NLL on the metric's split (``test/true_nll_bits`` for a test bound)."""
    return f"{metric.split('/')[0]}/true_nll_bits" if "/" in metric else "true_nll_bits"


def is_gap(metric: str) -> bool:
    return metric.endswith("gap_bits")


def check_reported(jobs: list[Job], metric: str) -> None:
    """A metric asked for by name must be one that some job reports (a table of dashes would hide the typo), unless
    no job reports any number yet."""
    reported = sorted({k for job in jobs for k, v in job.summary.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)})
    if reported and metric not in reported:
        raise ReportError(f"--metric {metric}: no job reports it; the jobs report {', '.join(reported)}")


def check_comparable(jobs: list[Job], metric: str) -> None:
    """Finished jobs must all report ``metric`` (or none), be on one kind of data (``data._target_`` of their
    ``.hydra/config.yaml``), and all or none know the data's true NLL; jobs with no config must agree on it, unless
    they are ranked by their gap to it (a sweep over data)."""
    done = [job for job in jobs if job.status == "finished"]

    def names(group: list[Job]) -> str:
        return ", ".join(job.name for job in group[:3]) + (" …" if len(group) > 3 else "")

    lacking = [job for job in done if metric not in job.summary]
    if lacking and len(lacking) < len(done):
        raise ReportError(f"jobs report different metrics: {names(lacking)} lack {metric}, which "
                          f"{len(done) - len(lacking)} other finished jobs report; compare one sweep's jobs")
    kinds = defaultdict(list)
    for job in done:
        kinds[job.full_config.get("data._target_")].append(job)
    kinds.pop(None, None)
    if len(kinds) > 1:
        raise ReportError("jobs are on different data: " + "; ".join(f"{kind} ({names(group)})"
                                                                      for kind, group in kinds.items()))
    known = [job for job in done if not math.isnan(job.value("true_nll_bits"))]
    if known and len(known) < len(done):
        unknown = [job for job in done if job not in known]
        raise ReportError(f"jobs are on different data: {names(known)} know the data's true NLL, {names(unknown)} "
                          "do not")
    unconfigured = [job.value("true_nll_bits") for job in known if not job.full_config and not is_gap(metric)]
    if unconfigured and max(unconfigured) - min(unconfigured) > TRUE_NLL_TOLERANCE * statistics.median(unconfigured):
        raise ReportError(f"jobs are on different data: their true NLLs range from {min(unconfigured):.4g} to "
                          f"{max(unconfigured):.4g} bits")


def finite(x: float | None) -> float | None:
    """A number for JSON: None for NaN, infinities and no value."""
    return x if x is not None and math.isfinite(x) else None


def default_metric(jobs: list[Job], keys: list[str]) -> str:
    """The test bound, else the validation bound; but the gap to the true NLL where the data is swept (a ``data``
    key, other than the seed) and every finished job knows it: bounds on different data do not compare, gaps do."""
    done = [job for job in jobs if job.status == "finished"]
    if done and any(k.lstrip("+~").split(".")[0] == "data" for k in keys) and all(GAP_METRIC in j.summary for j in done):
        return GAP_METRIC
    return next((m for m in SORT_METRICS if any(m in job.summary for job in jobs)), SORT_METRICS[0])


def gap(job: Job, metric: str) -> float:
    """How far the job's bound is above the data's true NLL (NaN where the data has none)."""
    if is_gap(metric):
        return job.value(metric)
    truth = job.value(truth_key(metric))
    return job.value(metric) - (job.value("true_nll_bits") if math.isnan(truth) else truth)


@dataclass
class Group:
    """The jobs sharing the values of some swept keys (by default all but the seed: one configuration).

    ``estimate`` is over its finished jobs with a finite metric; ``difference`` is to the best group and
    ``difference_above`` to the group ranked just above, each paired over the jobs that match in every other swept
    key (the seed, for configurations)."""

    config: dict[str, str]
    jobs: list[Job]
    estimate: Estimate
    gap: Estimate
    difference: Estimate | None = None
    difference_above: Estimate | None = None

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config.items()) or "all jobs"

    def counted(self, metric: str) -> list[Job]:
        return [job for job in self.jobs if job.status == "finished" and math.isfinite(job.value(metric))]

    def count(self, status: str) -> int:
        return sum(job.status == status for job in self.jobs)


@dataclass
class Sweep:
    """A sweep's jobs best first, the overrides common to all, and the keys whose values differ (the seed too); a
    file that cannot be read is named in ``problems`` and its job is reported as far as it can be."""

    path: Path
    jobs: list[Job]
    metric: str
    common: list[str]
    keys: list[str]
    grid_problem: str | None = None

    @classmethod
    def read(cls, path: Path, metric: str | None = None) -> "Sweep":
        jobs = read_jobs(path)
        if not jobs:
            raise ReportError(f"{path} holds no job directories (<num>_<overrides>/.hydra/overrides.yaml); "
                              "give the directory of a `python train.py -m ...` sweep")
        if metric is not None:
            check_reported(jobs, metric)
        known = [job for job in jobs if job.overrides or OVERRIDES not in job.unreadable] or jobs
        common = [o for o in known[0].overrides if all(o in job.overrides for job in known)]
        keys = []
        for job in known:
            keys += [k for o in job.overrides if o not in common and (k := o.split("=", 1)[0]) not in keys]
        metric = metric or default_metric(jobs, keys)
        check_comparable(jobs, metric)
        return cls(path, rank(jobs, metric), metric, common, keys, jobs.grid_problem)

    @property
    def title(self) -> str:
        """``Sweep <directory>``, or the directory's name alone where it already says sweep (not "Sweep sweep")."""
        name = self.path.name
        return name if "sweep" in name.lower() else f"Sweep {name}"

    @property
    def problems(self) -> list[str]:
        """One line per file that could not be read, naming it (of those read so far)."""
        return [line for line in [self.grid_problem] if line] + [line for job in self.jobs for line in job.problems]

    @property
    def group_keys(self) -> list[str]:
        """The swept keys that make a configuration: all but the seed."""
        return [k for k in self.keys if k != SEED]

    @property
    def best_job(self) -> Job:
        return self.jobs[0]

    def groups(self, keys: list[str] | None = None) -> list[Group]:
        """The jobs grouped by their values of ``keys`` (default: configurations), best mean first, groups with no
        result last; each with its paired difference to the first and to the one above."""
        keys = self.group_keys if keys is None else keys
        rest = [k for k in self.keys if k not in keys]
        members = defaultdict(list)
        for job in self.jobs:
            members[tuple(job.config.get(k, "") for k in keys)].append(job)
        groups = []
        for values, jobs in members.items():
            group = Group(dict(zip(keys, values)), jobs, Estimate.of([]), Estimate.of([]))
            counted = group.counted(self.metric)
            group.estimate = Estimate.of([job.value(self.metric) for job in counted])
            group.gap = Estimate.of([g for job in counted if math.isfinite(g := gap(job, self.metric))])
            groups.append(group)
        groups.sort(key=lambda g: (g.estimate.n == 0, g.estimate.mean if g.estimate.n else 0.0))

        def by_rest(group: Group) -> dict:
            matched = {}
            for job in group.counted(self.metric):
                matched.setdefault(tuple(job.config.get(k, "") for k in rest), job.value(self.metric))
            return matched

        if groups and groups[0].estimate.n:
            for above, group in zip(groups, groups[1:]):
                group.difference = paired(by_rest(group), by_rest(groups[0]))
                group.difference_above = paired(by_rest(group), by_rest(above)) if above.estimate.n else None
        return groups

    def as_json(self) -> dict:
        """``report.json``: the metric and the configurations best first, with their statistics and jobs."""

        def estimate(e: Estimate) -> dict:
            return {"n": e.n, "mean": finite(e.mean), "std": finite(e.std), "ci95": finite(e.ci95)}

        groups = []
        for group in self.groups():
            counted = group.counted(self.metric)
            entry = {"config": group.config, **estimate(group.estimate), "jobs": [job.name for job in counted],
                     **{status: group.count(status) for status in STATUSES[1:]},
                     "others": [{"job": job.name, "status": job.status, "note": job.note}
                                for job in group.jobs if job not in counted]}
            if group.gap.n:
                entry["gap_to_true_nll"] = estimate(group.gap)
            for key, d in (("difference_to_best", group.difference),
                           ("difference_to_previous", group.difference_above)):
                if d is not None:
                    entry[key] = {**estimate(d), "distinguishable": d.distinguishable}
            groups.append(entry)
        return {"sweep": self.path.name, "metric": self.metric, "keys": self.keys, "common": self.common,
                "groups": groups}
