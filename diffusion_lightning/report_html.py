"""The report as one self-contained HTML page (figures embedded as base64 PNGs): it opens offline, from anywhere,
and can be mailed or attached as a single file."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .report import Report

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; white-space: nowrap; }
th { background: #f2f2f2; }
td.note { white-space: normal; max-width: 40em; }
tr.failed, tr.interrupted { background: #fde8e8; }
tr.missing { background: #f3f3f3; color: #777; }
img { max-width: 100%; border: 1px solid #eee; }
code { background: #f5f5f5; padding: 0 0.2em; }
"""
CAPTIONS = {
    "curves": "Bound curves, one colour per job",
    "samples_grid": "Samples, one panel per job (best first)",
    "forward_grid": "Forward process q(x_t), one row per job",
    "reverse_grid": "Reverse process p(x_t), one row per job",
}


def table(report: Report) -> str:
    header, *rows = report.rows()
    head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = []
    for job, row in zip(report.jobs, rows):
        cells = [f"<td>{html.escape(c)}</td>" for c in row[:-1]] + [f'<td class="note">{html.escape(row[-1])}</td>']
        body.append(f'<tr class="{html.escape(job.status)}">{"".join(cells)}</tr>')
    return f"<table><tr>{head}</tr>\n" + "\n".join(body) + "</table>"


def image(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<h2>{html.escape(caption)}</h2>\n<img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'


def html_page(report: Report, figures: dict[str, Path]) -> str:
    """Summary line, the table best first (failed and missing jobs highlighted, last), then every figure."""
    done = sum(job.status == "finished" for job in report.jobs)
    title = f"Sweep {report.sweep_dir.name}"
    return "\n".join([
        "<!DOCTYPE html>", '<html><head><meta charset="utf-8">', f"<title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
        (f"<p>{len(report.jobs)} jobs, {done} finished; best first by <code>{html.escape(report.metric)}</code> "
         f"(bits, lower is better). Overrides common to all jobs: "
         f"<code>{html.escape(' '.join(report.common) or 'none')}</code>.</p>"),
        table(report),
        *(image(path, CAPTIONS.get(name, name)) for name, path in figures.items()),
        "</body></html>",
    ])
