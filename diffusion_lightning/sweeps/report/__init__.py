"""A sweep's comparison report, offline: ``python -m diffusion_lightning.sweeps.report <sweep dir>``.

Modules, each importing only those above it: ``jobs`` (the one reader of a sweep's jobs and their status, shared
with ``sweep_status``), ``stats`` (mean ± std, Student-t intervals, paired differences), ``sweep`` (jobs ranked and
grouped into configurations; refuses what cannot be compared), ``tables`` (Markdown, CSV), ``figures`` (PNGs),
``charts`` (plotly figures), ``page`` (the self-contained HTML page) and ``cli``; beside them ``paired`` (two runs
compared point by point on their shared test split). Nothing imports torch or Lightning."""

from .cli import main, write_report

__all__ = ["main", "write_report"]
