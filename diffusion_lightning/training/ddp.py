"""Data-parallel runs inside a Hydra sweep: Lightning launches the other DDP ranks by re-running the command line,
which must re-run just this job, and leaves launch state behind that the next job of the sweep must not inherit."""

import os
import sys
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, read_write

from ..errors import ConfigError
from .environment import in_multirun

LAUNCH_VARS = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


def relaunch_ranks_into_this_job(cfg: DictConfig) -> None:
    """Lightning starts the other DDP ranks by re-running ``sys.argv`` with ``hydra.run.dir`` set to Hydra's run dir
    (its ``_hydra_subprocess_cmd``). Inside a ``-m`` sweep that would re-run the whole sweep elsewhere: make it
    re-run just this job, in this job's directory. That needs the job to run in the script's own process, as under
    ``hydra/launcher=basic``; the others run jobs in processes of their own (joblib's workers, submitit's, Ray's),
    which cannot re-run the script.

    The only place that depends on how Lightning builds that command (no public way does the same: ``ddp_spawn``
    pickles the run to its ranks, torchrun starts the whole command once per rank); tests/test_ddp.py checks the
    command Lightning builds after this, so a change in Lightning fails there in seconds."""
    if not in_multirun():
        return
    hydra_cfg = HydraConfig.get()
    launcher = hydra_cfg.runtime.choices.get("hydra/launcher")
    if str(cfg.trainer.get("strategy")).startswith("ddp") and cfg.trainer.get("devices") != 1 and launcher != "basic":
        raise ConfigError(f"trainer=ddp in a -m sweep needs hydra/launcher=basic (got {launcher}): Lightning starts the "
                          "other ranks by re-running train.py, which only the basic launcher's jobs can do")
    sys.argv = [sys.argv[0], *hydra_cfg.overrides.task]
    with read_write(hydra_cfg.run):
        hydra_cfg.run.dir = str(Path(cfg.paths.output_dir).resolve())


def launch_state() -> dict[str, str | None]:
    """The environment a DDP launch changes, as it is before the run."""
    return {k: os.environ.get(k) for k in LAUNCH_VARS}


def end_launch(before: dict[str, str | None]) -> None:
    """Undo what launching DDP ranks left in this process (a process group, and LOCAL_RANK & co., which would make
    Lightning expect externally started ranks), so the next job of a sweep launches its own."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
