"""Sweep tooling, reading what a sweep's jobs left (no torch, no Lightning): ``grid`` (a grid sweep's jobs, as Hydra
launches them), ``jobs`` (the one reader of a sweep's jobs), ``report`` (the comparison report), ``resume``
(``resume_sweep=true``) and ``status`` (the end-of-sweep check of failed jobs)."""
