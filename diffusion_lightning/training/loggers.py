"""The run's loggers: built from ``conf/logger/``, named after the sweep and job they belong to, started before
training (a logger that cannot start stops the run with one line), and finished after it."""

import hashlib
import math
import netrc
import os
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from omegaconf import DictConfig, OmegaConf

from ..errors import ConfigError
from .environment import in_multirun

JOB_TYPE_LENGTH = 64  # W&B refuses a longer job_type


def is_wandb(logger_cfg: DictConfig) -> bool:
    return str(logger_cfg.get("_target_")).endswith("WandbLogger")


def configuration_name(overrides: list[str]) -> str:
    """A job's configuration: its overrides without the seed, so that the seeds of one configuration share it
    (shortened with a hash of the whole where W&B would refuse its length)."""
    name = ",".join(o for o in overrides if o.split("=", 1)[0].lstrip("+~") != "seed") or "default"
    if len(name) <= JOB_TYPE_LENGTH:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: JOB_TYPE_LENGTH - 9]}~{digest}"


def sweep_run_names(logger_cfg: DictConfig) -> dict[str, str]:
    """In a Hydra multirun, a W&B run with no group, name or job_type of its own is grouped by its sweep directory,
    named by its job directory (``<num>_<overrides>``) and typed by its configuration (the overrides without the
    seed), so that a sweep is one group on the dashboard and its seeds group into mean ± std bands."""
    if not is_wandb(logger_cfg) or not in_multirun():
        return {}
    hydra_cfg = HydraConfig.get()
    job_dir = os.path.normpath(hydra_cfg.runtime.output_dir)
    exclude = set(hydra_cfg.job.config.override_dirname.exclude_keys)
    overrides = [o for o in hydra_cfg.overrides.task if o.split("=", 1)[0].lstrip("+~") not in exclude]
    names = {"group": os.path.basename(os.path.dirname(job_dir)), "name": os.path.basename(job_dir),
             "job_type": configuration_name(overrides)}
    return {k: v for k, v in names.items() if logger_cfg.get(k) is None}


def check_wandb_online(logger_cfg: DictConfig) -> None:
    """Online W&B needs an API key; without one, wandb would stop to ask for it. Fail at once instead. With a
    key, bound how long wandb waits for its server (WANDB_INIT_TIMEOUT, 20 s unless set)."""
    if not is_wandb(logger_cfg) or logger_cfg.get("offline", False):
        return
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE") in ("offline", "disabled"):
        return
    if not netrc_has_key("api.wandb.ai"):
        raise ConfigError("logger.wandb.offline=false needs a W&B account: run `wandb login` or set WANDB_API_KEY; "
                          "or log offline (the default) and `wandb sync` the run later")
    os.environ.setdefault("WANDB_INIT_TIMEOUT", "20")


def netrc_has_key(host: str) -> bool:
    """Whether ``~/.netrc`` holds a login for ``host`` (no file: no key); a file that cannot be read or parsed is
    refused in one line naming it, instead of being read as "no key"."""
    path = Path.home() / ".netrc"
    try:
        return netrc.netrc().authenticators(host) is not None
    except FileNotFoundError:
        return False
    except netrc.NetrcParseError as error:
        raise ConfigError(f"{error.filename or path}, line {error.lineno}: {error.msg}; fix the file (wandb login "
                          "writes it), or set WANDB_API_KEY") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} cannot be read ({' '.join(str(error).split())}); fix the file, or set "
                          "WANDB_API_KEY") from error


def build_loggers(cfg: DictConfig) -> list:
    """The configured loggers (none: an empty list), each checked before it is built."""
    logger_cfgs = [c for c in (cfg.get("logger") or {}).values() if c]
    for logger_cfg in logger_cfgs:
        check_wandb_online(logger_cfg)
    return [instantiate(c, **sweep_run_names(c)) for c in logger_cfgs]


def start_loggers(loggers: list, cfg: DictConfig) -> None:
    """Log the resolved config. A W&B run that cannot reach its server, or a logger that cannot write its files,
    stops the run here in one line (the library's error kept as its cause); any other error is a bug, and keeps its
    traceback."""
    for logger in loggers:
        try:
            logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
        except Exception as error:
            failure = start_failure(logger, error)
            if failure is None:
                raise
            raise failure from error


def start_failure(logger, error: Exception) -> ConfigError | None:
    """The one-line ConfigError for an error that a logger raised while starting, or None where the error is not
    the setting's, the disk's or the network's fault."""
    reason = " ".join(str(error).split())  # one line, whatever the library's message
    name = type(logger).__name__
    if isinstance(logger, WandbLogger):
        import wandb

        if isinstance(error, (wandb.Error, OSError)):
            return ConfigError(f"logger {name} could not start: {reason}; check the network, or log offline with "
                               "logger.wandb.offline=true (the default)")
    if isinstance(error, OSError):
        return ConfigError(f"logger {name} could not write its files: {reason}; check the directory "
                           "(paths.output_dir) and the free disk space")
    return None


def finish_loggers(cfg: DictConfig, loggers: list, summary: dict) -> None:
    """Hand the run's config with its final metrics to TensorBoard (its HParams dashboard then shows a sweep as a
    table and parallel coordinates), and end this job's W&B run, so that the next job of a sweep starts its own."""
    metrics = {k: v for k, v in summary.items() if "/" in k and isinstance(v, float) and math.isfinite(v)}
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger) and metrics:
            logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True), metrics=metrics)
            logger.save()
    if cfg.get("logger") and "wandb" in cfg.logger:
        import wandb

        wandb.finish()
