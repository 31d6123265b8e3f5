"""Benchmarks of the product as users run it: ``python -m diffusion_lightning.bench [NAME ...] [--quick]``.

Each benchmark is a module with ``run(size) -> list[dict]``; every dict is one measurement, printed as one
JSON line, and the whole run is written to BENCHMARKS.md (see ``__main__``).
"""
