"""Diffusion probabilistic models (Sohl-Dickstein et al. 2015) with PyTorch Lightning and Hydra.

The package in layers, each importing only those before it (``tests/test_layers.py`` checks it); ``train.py``
joins the top two, running ``training.run.task`` as a job that ``sweeps.resume.resumable`` can keep or resume:

- ``diffusion``: the math (schedules, processes, losses, objectives, t samplers), pure torch;
- ``data``, ``networks``: LightningDataModules with their sample metrics, and the reverse networks;
- ``training``: the Lightning and Hydra glue (the module, the task, stepping, checkpoints, loggers, outputs);
- ``sweeps``: what reads a sweep's jobs (the report, resuming, the end-of-sweep status); no torch;
- ``inference``: a trained run, loaded to sample and to score points (``load_run``), and the ``sample.py`` and
  ``evaluate.py`` commands;
- ``bench``: benchmarks of the product as users run it.

The package's face is ``load_run`` (and the ``Run`` it returns) and ``load_sweep``: ``from diffusion_lightning import
load_run`` imports ``inference`` when first used, so that importing the package loads neither torch nor Lightning.
Importing the package or any layer changes no process setting (the entry points call
``training.environment.configure()``); ``sweeps`` registers one OmegaConf resolver, ``path_safe``, which names a
sweep's job directories in every process that resolves one (``sweeps/naming.py``)."""

__version__ = "0.1.0"
__all__ = ["Run", "load_run", "load_sweep"]


def __getattr__(name: str):
    """``load_run``, ``load_sweep`` and ``Run``, from ``inference`` when first asked for: the import stays light."""
    if name in __all__:
        from . import inference

        return getattr(inference, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
