"""``python -m diffusion_lightning.sweeps.report <sweep dir>``: compare a sweep's jobs offline, without W&B.

Writes into the sweep directory (or ``--out``): ``report.md`` (configurations with mean ± std over seeds, 95%
intervals and paired differences to the best; then every job), ``report.csv`` (one row per job), ``report.json``
(the configurations, for scripts), ``curves.png`` and ``samples_grid.png``, ``forward_grid.png``,
``reverse_grid.png`` (one panel per job), and ``report.html``, one interactive self-contained page."""

import argparse
import json
import sys
from pathlib import Path

from ...training.files import written_whole
from .figures import write_pngs
from .page import html_page
from .sweep import SORT_METRICS, ReportError, Sweep
from .tables import markdown, write_csv


def write_report(sweep_dir: Path, out: Path, metric: str | None = None) -> Sweep:
    """Every file of the report in ``out``; returns the sweep read (its Markdown is ``tables.markdown(sweep)``)."""
    sweep = Sweep.read(sweep_dir, metric)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "report.md", markdown(sweep))
    write_csv(sweep, out / "report.csv")
    write_text(out / "report.json", json.dumps(sweep.as_json(), indent=1))
    write_pngs(sweep, out)
    write_text(out / "report.html", html_page(sweep))
    return sweep


def write_text(path: Path, text: str) -> None:
    """Whole or not at all: a report cut short keeps the previous one."""
    with written_whole(path) as tmp:
        tmp.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diffusion_lightning.sweeps.report",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("sweep_dir", type=Path, help="a sweep directory, e.g. multirun_outputs/<sweep>")
    parser.add_argument("--out", type=Path, help="where to write the report (default: the sweep directory)")
    parser.add_argument("--metric", help=f"summary key to sort by, lowest first (default: {' or '.join(SORT_METRICS)})")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"error: {args.sweep_dir} is not a directory; give a sweep directory, e.g. multirun_outputs/<sweep>",
              file=sys.stderr)
        return 1
    out = args.out or args.sweep_dir
    try:
        sweep = write_report(args.sweep_dir, out, args.metric)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for line in sweep.problems:
        print(f"warning: {line}", file=sys.stderr)
    print(markdown(sweep))
    print(f"report written to {out / 'report.html'}")
    return 0
