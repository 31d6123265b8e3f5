"""Sweep tooling, reading what a sweep's jobs left: ``grid`` (a grid sweep's jobs, as Hydra launches them), ``jobs``
(the one reader of a sweep's jobs), ``report`` (the comparison report), ``resume`` (``resume_sweep=true``),
``status`` (the end-of-sweep check of failed jobs), ``progress`` (a line per finished job) and ``naming`` (the job
directories' names). None imports torch or Lightning, except the part of ``resume`` that runs inside a job
(``resumable``, which ``train.py`` wraps around ``training.run.task``)."""

from .naming import register

register()  # the resolver of the job directories' names, needed wherever Hydra resolves one (naming.py)
