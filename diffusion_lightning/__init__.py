"""Diffusion probabilistic models (Sohl-Dickstein et al. 2015) with PyTorch Lightning and Hydra.

The package in layers, each importing only those before it (one exception: a job of ``resume_sweep=true`` is
resumed by ``sweeps.resume.resume_job``, which ``training.run.task`` calls):

- ``diffusion``: the math (schedules, processes, losses, objectives, t samplers), pure torch;
- ``data``, ``networks``: LightningDataModules with their sample metrics, and the reverse networks;
- ``training``: the Lightning and Hydra glue (the module, the task, stepping, checkpoints, loggers, outputs);
- ``sweeps``: what reads a sweep's jobs (the report, resuming, the end-of-sweep status); no torch;
- ``bench``: benchmarks of the product as users run it.

Importing the package or any layer's ``__init__`` changes no process setting; the entry points call
``training.environment.configure()``."""

__version__ = "0.1.0"
