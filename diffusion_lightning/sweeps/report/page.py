"""``report.html``: one self-contained page that opens offline and fetches nothing. plotly.js (from the plotly
package), the data and the images (base64 PNGs scaled to the size shown) are all inside it. Python computes every
statistic and every figure; the page's script only sorts, filters, regroups and hands figures to Plotly."""

import base64
import html
import io
import itertools
import json

import plotly.io as pio
from PIL import Image
from plotly.offline import get_plotlyjs

from . import charts, notes
from ..jobs import Job
from .page_script import SCRIPT, STYLE
from .sweep import STATUSES, Group, Sweep, finite
from .tables import (GAP, above_cell, counts_cell, difference_cell, estimate_cell, gap_cell, group_decimals,
                     interval_cell, job_cell, job_decimals, metric_columns, verdict_cell)

IMAGE_KINDS = [("samples", "Samples"), ("forward_process", "Forward process q(x_t)"),
               ("reverse_process", "Reverse process p(x_t)")]
COLUMN_KINDS = {"label": "name", "estimate": "num", "interval": "num", "difference": "num", "above": "num",
                "gap": "num", "counts": "wrap"}  # how a cell lays out: names wrap at commas, numbers align right
MAX_GROUPING_KEYS = 6  # beyond this, only the configuration, each key alone and all jobs together are offered


def thumbnail(image: Image.Image) -> dict:
    """A figure as a data URI scaled down to the width the page shows it at: square panels side by side, heartbeat
    rasters two to a row, wide rows of q(x_t) frames one under the other at the page's width, frame under frame."""
    aspect = image.width / image.height
    width = 1200 if aspect > 2.5 else 600 if aspect > 1.5 else 320
    image.thumbnail((width, max(1, round(width / aspect))), Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    width = image.width
    return {"src": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"), "width": width}


def config_difference(job: Job, best: Job) -> str:
    """The settings where ``job`` differs from the best job: of their resolved configs where both have one, else of
    their overrides."""
    if job is best:
        return "(the best job)"
    mine, theirs = ((job.full_config, best.full_config) if job.full_config and best.full_config
                    else (job.config, best.config))
    changes = [f"{k}: {theirs.get(k, '—')} → {mine.get(k, '—')}" for k in sorted(mine.keys() | theirs.keys())
               if mine.get(k) != theirs.get(k)]
    return "; ".join(changes) or "same settings"


def groupings(keys: list[str]) -> list[list[str]]:
    """The key subsets the page can group by: every one, or for many keys the whole, each alone, and none."""
    if len(keys) > MAX_GROUPING_KEYS:
        return [keys, *([k] for k in keys), []]
    return [[k for k, keep in zip(keys, mask) if keep] for mask in itertools.product([True, False], repeat=len(keys))]


def group_row(group: Group, best: Group, rank: int, places: dict[str, int], index: dict[int, int],
              images: dict) -> dict:
    """A group's table row: its cells as text (``places``: each column's decimals), the values it sorts by, its jobs
    and the job whose images it shows."""
    statuses = [job.status for job in group.jobs]
    cells = {"rank": str(rank), "label": group.label, "estimate": estimate_cell(group.estimate, places["estimate"]),
             "interval": interval_cell(group.estimate, places["estimate"]),
             "difference": difference_cell(group, best, places["difference"]), "verdict": verdict_cell(group),
             "above": above_cell(group, places["above"]), "gap": estimate_cell(group.gap, places[GAP]),
             "counts": counts_cell(group)}
    d, above = group.difference, group.difference_above
    sort = {"rank": rank, "label": group.label, "estimate": finite(group.estimate.mean),
            "interval": finite(group.estimate.ci95), "difference": None if d is None else finite(d.mean),
            "verdict": cells["verdict"] or None, "above": None if above is None else finite(above.mean),
            "gap": finite(group.gap.mean),
            "counts": sum(s != "finished" for s in statuses)}
    search = " ".join([*cells.values(), *(f"{job.name} {job.status} {job.note}" for job in group.jobs)]).lower()
    return {"label": group.label, "cells": cells, "sort": sort, "search": search,
            "status": next((s for s in STATUSES[1:] if s in statuses), "finished"),
            "jobs": [index[id(job)] for job in group.jobs],
            "imageJob": next((index[id(job)] for job in group.jobs if index[id(job)] in images), None)}


def page_data(sweep: Sweep) -> dict:
    """Everything the page shows, as JSON: jobs, groupings (rows and figures for each choice of keys), images."""
    index = {id(job): i for i, job in enumerate(sweep.jobs)}
    images = {}
    for group in sweep.groups():  # each configuration's best job with figures
        job = next((j for j in group.counted(sweep.metric) if j.figure("samples") or j.figure("forward_process")),
                   None)
        shown = {kind: thumbnail(image) for kind, _ in IMAGE_KINDS if (image := job.picture(kind))} if job else {}
        if shown:
            images[index[id(job)]] = shown
    columns = metric_columns(sweep)
    d = job_decimals(sweep, columns)
    jobs = [{"name": job.name, "status": job.status, "value": job_cell(job, sweep.metric, d[sweep.metric]),
             "cells": [job.name, job.status, *(job.config.get(k, "") for k in sweep.keys),
                       *(job_cell(job, c, d[c]) for c in columns), gap_cell(job, sweep.metric, d[GAP]), job.note,
                       config_difference(job, sweep.best_job)]}
            for job in sweep.jobs]
    views = {}
    for keys in groupings(sweep.group_keys):
        groups = sweep.groups(keys)
        places = group_decimals(groups)
        views["|".join(keys)] = {"rows": [group_row(g, groups[0], i, places, index, images)
                                          for i, g in enumerate(groups, 1)],
                                 "curves": charts.curves_chart(groups), "perT": charts.per_t_chart(groups)}
    with_gap = any(row["sort"]["gap"] is not None for row in views["|".join(sweep.group_keys)]["rows"])
    group_columns = [("rank", "#"), ("label", "group"), ("estimate", f"{sweep.metric} mean ± std (n)"),
                     ("interval", "95% interval"), ("difference", "Δ to best (paired, ± 95%)"),
                     ("verdict", "distinguishable"), ("above", "Δ to the rank above"),
                     *([("gap", "gap to true NLL")] if with_gap else []),
                     ("counts", "not finished")]
    job_columns = [("job", "name"), ("status", ""), *((k, "") for k in sweep.keys), *((c, "num") for c in columns),
                   ("gap", "num"), ("error or note", "text"), ("differs from the best job in", "text")]
    return {"metric": sweep.metric, "groupKeys": sweep.group_keys, "groupings": views, "jobs": jobs,
            "groupColumns": [{"key": k, "label": label, "kind": COLUMN_KINDS.get(k, "")} for k, label in group_columns],
            "jobColumns": [{"label": label, "kind": kind} for label, kind in job_columns],
            "parallel": charts.parallel_chart(sweep), "images": images, "imageKinds": IMAGE_KINDS,
            "template": pio.templates[charts.TEMPLATE].to_plotly_json()}


def html_page(sweep: Sweep) -> str:
    counts = ", ".join(f"{n} {s}" for s in STATUSES if (n := sum(job.status == s for job in sweep.jobs)))
    title = sweep.title
    data = json.dumps(page_data(sweep)).replace("</", "<\\/")
    esc = html.escape
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{esc(title)}</title><style>{STYLE}</style></head><body>
<h1>{esc(title)}</h1>
<p>{len(sweep.jobs)} jobs ({esc(counts)}); <code>{esc(sweep.metric)}</code> in bits, lower is better.
Overrides common to all jobs: <code>{esc(' '.join(sweep.common) or 'none')}</code>.</p>
<p class="muted">Groups are the configurations (every swept key but the seed) unless you untick keys. Statistics are
over each group's finished jobs; Δ to best and Δ to the rank above are paired over the jobs that match in every
other swept key (the seeds, for configurations), mean ± 95% half-width; distinguishable when that interval excludes
0.</p>
<div class="controls"><span>Group by: <span id="groupby"></span></span>
<span id="groupby-none" class="muted" hidden>not available for this combination (many swept keys)</span>
<label>Filter: <input id="filter" type="search" placeholder="e.g. cosine failed"></label>
<button id="expand">expand all</button><button id="collapse">collapse all</button>
<span class="muted"><span id="group-count"></span> groups; click a header to sort</span></div>
<div class="table-box"><table id="groups"></table></div>
{''.join(notes.notes(sweep))}
<h2>Validation bound</h2><p id="curves-help" class="muted">Click a legend entry to hide or show a group (its band too).</p>
<div id="curves" class="chart"></div><p id="curves-none" class="muted" hidden>{esc(notes.no_curves(sweep))}</p>
<h2>Bound paid per t</h2>
<div id="per-t" class="chart"></div><p id="per-t-none" class="muted" hidden>No job wrote bound_per_t.json.</p>
<h2>Parallel coordinates</h2><p class="muted">Each finished job, from its swept values to
<code>{esc(sweep.metric)}</code>; drag along an axis to select a range (several axes narrow it down).</p>
<div id="parallel" class="chart"></div><p id="parallel-none" class="muted" hidden>No job finished.</p>
<h2>Images of the ticked groups</h2><p class="muted">Each group's best job with figures.</p>
<div id="images"></div>
<script>{get_plotlyjs()}</script>
<script type="application/json" id="report-data">{data}</script>
<script>{SCRIPT}</script>
</body></html>
"""
