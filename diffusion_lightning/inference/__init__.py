"""Using a trained run: ``load_run`` (a run, a sweep's job or a checkpoint, as a ``Run`` that samples and scores
points in bits) and ``load_sweep`` (every finished job of a sweep); the points a run takes (``points``); and the
``sample.py`` and ``evaluate.py`` commands (``commands``), which write what it gives (``files``)."""

from .loading import Run, load_run, load_sweep

__all__ = ["Run", "load_run", "load_sweep"]
