"""Diffusion probabilistic models (Sohl-Dickstein et al. 2015) with PyTorch Lightning and Hydra.

The package in layers, each importing only those before it (``tests/test_layers.py`` checks it); ``train.py``
joins the top two, running ``training.run.task`` as a job that ``sweeps.resume.resumable`` can keep or resume:

- ``diffusion``: the math (schedules, processes, losses, objectives, t samplers), pure torch;
- ``data``, ``networks``: LightningDataModules with their sample metrics, and the reverse networks;
- ``training``: the Lightning and Hydra glue (the module, the task, stepping, checkpoints, loggers, outputs);
- ``sweeps``: what reads a sweep's jobs (the report, resuming, the end-of-sweep status); no torch;
- ``bench``: benchmarks of the product as users run it.

Importing the package or any layer's ``__init__`` changes no process setting; the entry points call
``training.environment.configure()``."""

__version__ = "0.1.0"
