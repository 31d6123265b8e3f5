"""Using a trained run: ``load_run`` (a run, a sweep's job or a checkpoint, as a ``Run`` that samples and scores
points in bits), the points it takes (``points``), and the ``sample.py`` and ``evaluate.py`` commands (``commands``)
that write what it gives."""

from .loading import Run, load_run

__all__ = ["Run", "load_run"]
