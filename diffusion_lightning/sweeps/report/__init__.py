"""A sweep's comparison report, offline: ``python -m diffusion_lightning.sweeps.report <sweep dir>``.

It reads the sweep with ``sweeps.jobs`` (the one reader of a sweep's jobs and their status, shared with the
end-of-sweep status and resume_sweep=true). Modules, each importing only those above it: ``stats`` (mean ± std,
Student-t intervals, paired differences), ``sweep`` (jobs ranked and grouped into configurations; refuses what
cannot be compared), ``tables`` (Markdown, CSV; each column's decimals), ``figures`` (PNGs), ``charts`` (plotly
figures), ``notes`` (the page's lines on reading its numbers), ``page`` (the self-contained HTML page) and ``cli``; beside them ``paired`` (two runs compared point by point on their shared test
split). Nothing imports torch or Lightning."""

from .cli import main, write_report

__all__ = ["main", "write_report"]
