"""A job's directory name: its overrides, each "/" of a nested config group (``loss/t_sampler=uniform``) made "."
so that every job is one directory directly under its sweep (``0_loss.t_sampler=uniform,seed=0``), where the readers
of a sweep, the W&B names and ``resume_sweep`` look for it. conf/hydra/default.yaml names the directory with the
resolver ``path_safe``. Hydra resolves it in the process that runs the job, a launcher's worker too; every such
process imports this package first (it unpickles the sweep callbacks of ``hydra.callbacks``), and the package
registers the resolver (``register``)."""

from omegaconf import OmegaConf


def path_safe(name: str) -> str:
    """``name`` as one path component."""
    return name.replace("/", ".")


def register() -> None:
    OmegaConf.register_new_resolver("path_safe", path_safe, replace=True)
