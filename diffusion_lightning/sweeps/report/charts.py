"""The page's interactive charts, built with plotly's Python API and handed to the page as figure JSON: validation
bound curves with a mean ± std band per group (toggled together from the legend), the bound paid per t per group,
and parallel coordinates of the swept keys against the metric (drag along an axis to brush)."""

import math
import statistics
from collections import defaultdict

import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, qualitative

from ..jobs import Job
from .sweep import Group, Sweep

TEMPLATE = "plotly_white"  # embedded once in the page (``template``), stripped from each figure


def colour(i: int, n: int, alpha: float = 1.0) -> str:
    palette = qualitative.Plotly if n <= 10 else qualitative.Dark24
    r, g, b = hex_to_rgb(palette[i % len(palette)])
    return f"rgba({r},{g},{b},{alpha})"


def band(series: list[tuple[list, list]]) -> tuple[list, list, list]:
    """x, mean and std (0 where one series has the point) over several (x, y) series, at every x any of them has."""
    at = defaultdict(list)
    for xs, ys in series:
        for x, y in zip(xs, ys):
            if isinstance(y, (int, float)) and math.isfinite(y):
                at[x].append(y)
    xs = sorted(at)
    return xs, [statistics.fmean(at[x]) for x in xs], [statistics.stdev(at[x]) if len(at[x]) > 1 else 0.0 for x in xs]


def banded_lines(fig: go.Figure, groups: list[Group], series_of) -> list[float]:
    """One mean line and its ± std band per group (one legend entry toggles both); returns the band's lower edges."""
    lows = []
    for i, group in enumerate(groups):
        series = [s for job in group.jobs if job.status == "finished" and (s := series_of(job))]
        if not series:
            continue
        xs, mean, std = band(series)
        name, low = f"{group.label} (n = {len(series)})", [m - s for m, s in zip(mean, std)]
        lows += low
        if len(series) > 1:
            fig.add_scatter(x=xs, y=[m + s for m, s in zip(mean, std)], mode="lines", line_width=0, legendgroup=name,
                            showlegend=False, hoverinfo="skip")
            fig.add_scatter(x=xs, y=low, mode="lines", line_width=0, fill="tonexty", legendgroup=name,
                            fillcolor=colour(i, len(groups), 0.2), showlegend=False, hoverinfo="skip")
        fig.add_scatter(x=xs, y=mean, mode="lines+markers", name=name, legendgroup=name, marker_size=5,
                        line_color=colour(i, len(groups)))
    return lows


def finish(fig: go.Figure, title: str, x: str, y: str, lows: list[float]) -> dict:
    """Axes, a log y-axis when everything drawn is positive, and the figure as JSON without its template."""
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title=x, yaxis_title=y, height=420,
                      margin={"l": 60, "r": 20, "t": 50, "b": 50}, legend={"font_size": 11})
    if lows and min(lows) > 0:
        fig.update_yaxes(type="log")
    figure = fig.to_plotly_json()
    figure["layout"].pop("template")
    return figure


def val_curve(job: Job) -> tuple[list, list] | None:
    rows = [r for r in job.curves.get("val", []) if "val/nll_bound_bits" in r]
    return ([r["step"] for r in rows], [r["val/nll_bound_bits"] for r in rows]) if rows else None


def per_t(job: Job) -> tuple[list, list] | None:
    per_t = job.bound_per_t
    return (per_t["t"], per_t["bits"]) if per_t.get("t") and per_t.get("bits") else None


def validation_steps(jobs: list[Job]) -> list[int]:
    """The steps at which the finished jobs validated."""
    return sorted({step for job in jobs if job.status == "finished" and (curve := val_curve(job)) for step in curve[0]})


def curves_chart(groups: list[Group]) -> dict | None:
    """The validation bound against the step from 0, a band per group; None where no group validated more than once
    (a point per group is no curve: its value is in the jobs' table)."""
    fig = go.Figure()
    lows = banded_lines(fig, groups, val_curve)
    if not any(len(trace.x) > 1 for trace in fig.data):
        return None
    fig.update_xaxes(rangemode="tozero")
    return finish(fig, "Validation bound: mean ± std over each group's finished jobs", "step",
                  "val/nll_bound_bits", lows)


def per_t_chart(groups: list[Group]) -> dict | None:
    """Where the bound is paid: bits per t (t = 0 is the prior term L_T); None when no job wrote bound_per_t.json."""
    fig = go.Figure()
    lows = banded_lines(fig, groups, per_t)
    if not fig.data:
        return None
    return finish(fig, "Bound paid per t: mean ± std per group", "t (0 = prior term L_T)", "bits", lows)


def axis(label: str, values: list[str]) -> dict:
    """A parallel-coordinates axis: numeric where every value is a number, else one tick per distinct value."""
    try:
        return {"label": label, "values": [float(v) for v in values]}
    except ValueError:
        distinct = sorted(set(values))
        return {"label": label, "values": [distinct.index(v) for v in values],
                "tickvals": list(range(len(distinct))), "ticktext": distinct}


def parallel_chart(sweep: Sweep) -> dict | None:
    """Each finished job as a line through its swept values (the seed too) to the metric, coloured by the metric."""
    jobs = [job for job in sweep.jobs if job.status == "finished" and math.isfinite(job.value(sweep.metric))]
    if not jobs:
        return None
    values = [job.value(sweep.metric) for job in jobs]
    dimensions = [axis(k, [job.config.get(k, "") for job in jobs]) for k in sweep.keys]
    line = {"color": values, "colorscale": "Viridis", "reversescale": True, "showscale": True}
    fig = go.Figure(go.Parcoords(dimensions=[*dimensions, {"label": sweep.metric, "values": values}], line=line))
    figure = finish(fig, "", "", "", [])
    figure["layout"]["margin"]["t"] = 80  # room for the axis labels above the axes
    return figure
