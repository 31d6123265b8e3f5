"""The training task: build data, process, network, module, callbacks, loggers and trainer from a
Hydra config; fit, test, and leave ``summary.json`` and ``curves.json`` in the run directory."""

import json
import logging
import math
import netrc
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, read_write

from . import __version__, _env
from .checkpointing import INTERRUPTIONS, AtomicCheckpointIO, sigterm_as_interrupt
from .errors import ConfigError, known_failure
from .losses import LOG2
from .module import DiffusionModule
from .processes import BinomialDiffusion, GaussianDiffusion
from .processes.base import DiffusionProcess

log = logging.getLogger(__name__)

def build_process(cfg: DictConfig, datamodule, betas: torch.Tensor) -> DiffusionProcess:
    """The forward process named by ``process.name``, checked against the kind of data."""
    name, kind = cfg.process.name, datamodule.kind
    if name == "gaussian":
        if kind != "continuous":
            raise ConfigError(f"process=gaussian needs continuous data, and data is {kind}; use process=binomial")
        variance = cfg.process.variance
        if variance == "auto":
            variance = "fixed_small" if cfg.loss.name == "mse" else "learned_range"
        return GaussianDiffusion(betas, cfg.process.prediction, variance)
    if name == "binomial":
        if kind != "binary":
            raise ConfigError(f"process=binomial needs binary data, and data is {kind}; use process=gaussian")
        prior = datamodule.mean_activity() if cfg.process.prior == "data" else float(cfg.process.prior)
        return BinomialDiffusion(betas, prior, cfg.process.prediction)
    raise ConfigError(f"process={name!r} is not known; choose gaussian or binomial")


def sweep_run_names(logger_cfg: DictConfig) -> dict[str, str]:
    """In a Hydra multirun, a W&B run with no group or name of its own is grouped by its sweep directory and named
    by its job directory (``<num>_<overrides>``), so that a sweep is one group on the dashboard."""
    if not str(logger_cfg.get("_target_")).endswith("WandbLogger") or not HydraConfig.initialized():
        return {}
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return {}
    job_dir = Path(hydra_cfg.runtime.output_dir)
    return {k: v for k, v in {"group": job_dir.parent.name, "name": job_dir.name}.items() if logger_cfg.get(k) is None}


def warn_if_signal_survives(process: DiffusionProcess, x0: torch.Tensor, tolerance_bits: float = 0.01) -> float:
    """The prior p(x_T) only fits if the schedule destroys the signal: warn with the cost L_T in bits when not."""
    bits = float(process.prior_term(x0[:2000]).mean()) / LOG2
    if bits > tolerance_bits:
        log.warning(f"the schedule leaves signal at t = T: the prior term L_T = KL(q(x_T|x_0) ‖ p(x_T)) costs "
                    f"{bits:.3g} bits per point; raise T or the schedule's β (e.g. schedule.beta_end)")
    return bits


def check_wandb_online(logger_cfg: DictConfig) -> None:
    """Online W&B needs an API key; without one, wandb would stop to ask for it. Fail at once instead. With a
    key, bound how long wandb waits for its server (WANDB_INIT_TIMEOUT, 20 s unless set)."""
    if not str(logger_cfg.get("_target_")).endswith("WandbLogger") or logger_cfg.get("offline", False):
        return
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE") in ("offline", "disabled"):
        return
    try:
        has_key = netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        has_key = False
    if not has_key:
        raise ConfigError("logger.wandb.offline=false needs a W&B account: run `wandb login` or set WANDB_API_KEY; "
                          "or log offline (the default) and `wandb sync` the run later")
    os.environ.setdefault("WANDB_INIT_TIMEOUT", "20")


def steps_per_batch(cfg: DictConfig) -> int:
    """Optimizer steps per ``training_step`` call: ``steps_per_batch``, lowered to divide every count of steps
    (validation, logging, periodic checkpoints, max_steps) so that each one falls between calls. Refuses the
    trainer settings that the module's manual optimization does not support."""
    steps, trainer = cfg.steps_per_batch, cfg.trainer
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps_per_batch={steps} must be a whole number ≥ 1; e.g. steps_per_batch=10")
    if trainer.get("gradient_clip_algorithm") not in (None, "norm", "value"):
        raise ConfigError(f"trainer.gradient_clip_algorithm={trainer.gradient_clip_algorithm} is not known; choose "
                          "norm (the default) or value")
    if trainer.get("accumulate_grad_batches", 1) != 1:
        raise ConfigError("trainer.accumulate_grad_batches is not supported; raise data.batch_size instead")
    if trainer.get("max_epochs", -1) not in (-1, None) or trainer.get("max_steps", -1) < 1:
        raise ConfigError("training is counted in steps, not epochs: set trainer.max_steps (e.g. 20000) and leave "
                          "trainer.max_epochs=-1")
    intervals = {"trainer.val_check_interval": trainer.val_check_interval,
                 "trainer.log_every_n_steps": trainer.log_every_n_steps, "trainer.max_steps": trainer.max_steps}
    for name, callback in (cfg.get("callbacks") or {}).items():
        if callback and callback.get("every_n_train_steps"):
            intervals[f"callbacks.{name}.every_n_train_steps"] = callback.every_n_train_steps
    for key, value in intervals.items():
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key}={value} must be a whole number of optimizer steps ≥ 1; e.g. {key}=1000")
    lowered = math.gcd(steps, *intervals.values())
    if lowered < steps:
        log.info(f"steps_per_batch={steps} lowered to {lowered} to divide {', '.join(intervals)}")
    return lowered


def build(cfg: DictConfig) -> tuple[L.LightningDataModule, DiffusionModule, L.Trainer]:
    """Everything a run needs, from the composed config."""
    if not isinstance(cfg.T, int) or cfg.T < 1:
        raise ConfigError(f"T={cfg.T} must be a whole number ≥ 1 (the number of diffusion steps); e.g. T=100")
    lr = cfg.optimizer.get("lr")
    if lr is not None and lr <= 0:
        raise ConfigError(f"optimizer.lr={lr} must be > 0; e.g. optimizer.lr=1e-3")
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    steps = steps_per_batch(cfg)
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    datamodule.steps_per_batch = steps
    process = build_process(cfg, datamodule, instantiate(cfg.schedule)(T=cfg.T))
    warn_if_signal_survives(process, datamodule.splits["train"])
    dim = math.prod(datamodule.shape)
    net = instantiate(cfg.model)(in_dim=dim, out_dim=process.out_dim(dim), T=cfg.T)
    torch.manual_seed(cfg.seed + 1000 * rank_zero_only.rank)  # same network on every rank, its own t and noise
    module = DiffusionModule(
        process, net, optimizer=instantiate(cfg.optimizer), loss=cfg.loss.name,
        hybrid_lambda=cfg.loss.get("lambda", 1e-3), t_sampler=cfg.loss.get("t_sampler", "uniform"),
        lr_scheduler=instantiate(cfg.lr_scheduler) if cfg.get("lr_scheduler") else None, ema_decay=cfg.ema_decay,
        gradient_clip_val=cfg.trainer.get("gradient_clip_val"),
        gradient_clip_algorithm=cfg.trainer.get("gradient_clip_algorithm") or "norm", steps_per_batch=steps,
    )
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    logger_cfgs = [c for c in (cfg.get("logger") or {}).values() if c]
    for logger_cfg in logger_cfgs:
        check_wandb_online(logger_cfg)
    loggers = [instantiate(c, **sweep_run_names(c)) for c in logger_cfgs]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[AtomicCheckpointIO()],
                          val_check_interval=cfg.trainer.val_check_interval // steps,  # counted in calls
                          gradient_clip_val=None, gradient_clip_algorithm=None)  # the module clips
    for logger in loggers:
        try:
            logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
        except Exception as error:  # a logger that cannot start (W&B online without a network) stops the run here
            reason = " ".join(str(error).split())  # one line, whatever the logger's message
            raise ConfigError(f"logger {type(logger).__name__} could not start: {reason}; check the network, or log "
                              "offline with logger.wandb.offline=true (the default)") from error
    return datamodule, module, trainer


def write_json(path: Path, obj) -> None:
    """Write whole or not at all: a reader never sees a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def run_info() -> dict:
    """What is needed to rerun: the command, package versions and the git commit (when there is one)."""
    import lightning

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"command": [sys.executable, *sys.argv], "diffusion_lightning": __version__, "git_commit": commit,
            "torch": torch.__version__, "lightning": lightning.__version__, "python": sys.version.split()[0],
            "torch_threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}


def relaunch_ddp_ranks_into_this_job(cfg: DictConfig) -> None:
    """Lightning starts the other DDP ranks by re-running ``sys.argv`` with ``hydra.run.dir`` set. Inside a
    ``-m`` sweep that would re-run the whole sweep elsewhere: make it re-run just this job, in this job's directory."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return
    hydra_cfg = HydraConfig.get()
    sys.argv = [sys.argv[0], *hydra_cfg.overrides.task]
    with read_write(hydra_cfg.run):
        hydra_cfg.run.dir = str(Path(cfg.paths.output_dir).resolve())


DDP_LAUNCH_VARS = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


def end_ddp_launch(launch_env: dict[str, str | None]) -> None:
    """Undo what launching DDP ranks left in this process (a process group, and LOCAL_RANK & co., which would make
    Lightning expect externally started ranks), so the next job of a sweep launches its own."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    for key, value in launch_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def run(cfg: DictConfig) -> float | None:
    """Train and test; return the metric to minimise (``optimized_metric``) for HPO sweepers.

    ``summary.json`` is written at the end whatever happens, with ``status`` finished, failed or interrupted."""
    out = Path(cfg.paths.output_dir)
    first_rank = rank_zero_only.rank == 0
    if first_rank:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "run_info.json", run_info())
    if first_rank and _env.OMP_AUTO_PASSIVE is not None:
        log.warning(f"other processes kept {_env.OMP_AUTO_PASSIVE:.1f} of {os.cpu_count()} cores busy at start: "
                    "torch's threads wait passively (OMP_WAIT_POLICY=PASSIVE), so runs sharing cores do not slow "
                    "each other several times over, at ~1.7× the cost of a run alone; set OMP_WAIT_POLICY to choose "
                    "(see README, Performance)")
    relaunch_ddp_ranks_into_this_job(cfg)
    launch_env = {k: os.environ.get(k) for k in DDP_LAUNCH_VARS}
    start = time.time()
    summary: dict = {"status": "failed"}
    trainer = module = None
    metrics: dict[str, float] = {}
    try:
        datamodule, module, trainer = build(cfg)
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
        trainer.test(module, datamodule=datamodule, verbose=False)
        summary["status"] = "finished"
    except BaseException as error:
        # Lightning turns Ctrl-C into SystemExit after its graceful stop, and SIGTERM into SIGTERMException.
        summary["status"] = "interrupted" if isinstance(error, (*INTERRUPTIONS, SystemExit)) else "failed"
        summary["error"] = str(known_failure(error) or f"{type(error).__name__}: {error}")
        raise
    finally:
        if first_rank:
            metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()} if trainer else {})
            if "test/true_nll_bits" in metrics:
                metrics["true_nll_bits"] = metrics["test/true_nll_bits"]
            summary.update(metrics, wall_time_s=round(time.time() - start, 2), step=trainer.global_step if trainer else 0)
            write_json(out / "summary.json", summary)
            if module is not None:
                write_json(out / "curves.json", {"train": module.history, "val": module.val_history})
        if cfg.get("logger") and "wandb" in cfg.logger:
            import wandb

            wandb.finish()
        end_ddp_launch(launch_env)
    return summary.get(cfg.get("optimized_metric"))


def task(cfg: DictConfig) -> float | None:
    """The Hydra task: ``run``, with a bad setting, bad data or divergence shown as one line and a non-zero
    exit (``HYDRA_FULL_ERROR=1`` shows the traceback). In a sweep a failed job returns NaN and the sweep goes on."""
    if threading.current_thread() is threading.main_thread():
        sigterm_as_interrupt()
    try:
        return run(cfg)
    except Exception as error:
        known = known_failure(error)
        if known is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {known}", file=sys.stderr)
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            return float("nan")
        sys.exit(1)
