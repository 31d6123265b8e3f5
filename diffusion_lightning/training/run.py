"""The training task: build data, process, network, module, callbacks, loggers and trainer from a Hydra config;
fit, test, and leave the run's outputs (``outputs.py``) in the run directory."""

import logging
import math
import sys
import threading
import time
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from . import ddp, environment
from .checkpointing import INTERRUPTIONS, AtomicCheckpointIO, sigterm_as_interrupt
from ..errors import ConfigError, check_number, known_failure, print_one_line
from .loggers import build_loggers, finish_loggers, start_loggers
from ..data.base import InMemoryDataModule
from ..diffusion.losses import LOG2
from .module import DiffusionModule
from .files import RUN_INFO
from .settings import check_settings, library_refusal
from .outputs import run_info, write_json, write_results
from ..diffusion.processes.base import DiffusionProcess
from .stepping import StepsPerCall, steps_per_call

log = logging.getLogger(__name__)


NOISIER = (("beta_end", "raise"), ("beta", "raise"), ("log_snr_end", "lower"))  # the key that ends a schedule noisier


def warn_if_signal_survives(process: DiffusionProcess, x0: torch.Tensor, schedule: DictConfig,
                            tolerance_bits: float = 0.01) -> float:
    """The prior p(x_T) only fits if the schedule destroys the signal: warn with the cost L_T in bits when not,
    naming the key of this ``schedule`` that would end it noisier (or another schedule where it has none)."""
    bits = float(process.prior_term(x0[:2000]).mean().detach()) / LOG2
    if bits > tolerance_bits:
        how = next((f"{verb} schedule.{key}" for key, verb in NOISIER if key in schedule),
                   "choose a noisier schedule, e.g. schedule=linear")
        log.warning(f"the schedule leaves signal at t = T: the prior term L_T = KL(q(x_T|x_0) ‖ p(x_T)) costs "
                    f"{bits:.3g} bits per point; raise T, or {how}")
    return bits


def build_model(cfg: DictConfig) -> tuple[InMemoryDataModule, DiffusionModule]:
    """The data (set up) and the module (process, network, EMA copies) that a config describes, with fresh weights
    drawn from torch's global generator: ``build`` seeds it first; a loaded run (``inference``) replaces them."""
    if not isinstance(cfg.T, int) or cfg.T < 1:
        raise ConfigError(f"T={cfg.T} must be a whole number ≥ 1 (the number of diffusion steps); e.g. T=100")
    if not isinstance(cfg.eval_seed, int) or cfg.eval_seed < 0:
        raise ConfigError(f"eval_seed={cfg.eval_seed} must be a whole number ≥ 0 (it draws the bound's x_t); "
                          "e.g. eval_seed=1")
    check_settings(cfg)
    lr = cfg.optimizer.get("lr")
    if lr is not None and lr <= 0:
        raise ConfigError(f"optimizer.lr={lr} must be > 0; e.g. optimizer.lr=1e-3")
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    process = instantiate(cfg.process)(betas=instantiate(cfg.schedule)(T=cfg.T), loss=instantiate(cfg.loss),
                                       data=datamodule)
    dim = math.prod(datamodule.shape)
    network = OmegaConf.masked_copy(cfg.model, [k for k in cfg.model if k != "parameterisation"])
    net = instantiate(network)(in_dim=dim, out_dim=process.out_dim(dim), T=process.T)
    module = DiffusionModule(
        process, net, optimizer=instantiate(cfg.optimizer),
        lr_scheduler=instantiate(cfg.lr_scheduler) if cfg.get("lr_scheduler") else None, ema_decay=cfg.ema_decay,
        eval_seed=cfg.eval_seed, val_strata=cfg.get("val_strata"), schedule_lr=cfg.get("schedule_lr"),
        gradient_clip_val=cfg.trainer.get("gradient_clip_val"),
        gradient_clip_algorithm=cfg.trainer.get("gradient_clip_algorithm") or "norm",
    )
    return datamodule, module


def build(cfg: DictConfig) -> tuple[L.LightningDataModule, DiffusionModule, L.Trainer]:
    """Everything a run needs, from the composed config."""
    check_top_level(cfg)  # the seed before it seeds anything
    stepping = StepsPerCall(steps_per_call(cfg))
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule, module = build_model(cfg)
    check_optimization(cfg)
    warn_if_signal_survives(module.process, datamodule.splits["train"], cfg.schedule)
    torch.manual_seed(cfg.seed + 1000 * rank_zero_only.rank)  # same network on every rank, its own t and noise
    callbacks = [built(f"callbacks.{name}", c) for name, c in (cfg.get("callbacks") or {}).items() if c] + [stepping]
    loggers = build_loggers(cfg)
    trainer = built("trainer", cfg.trainer, callbacks=callbacks, logger=loggers or False,
                    plugins=[AtomicCheckpointIO()], val_check_interval=stepping.calls(cfg.trainer.val_check_interval),
                    gradient_clip_val=None, gradient_clip_algorithm=None)  # the module clips
    start_loggers(loggers, cfg)
    return datamodule, module, trainer


def check_top_level(cfg: DictConfig) -> None:
    """The top-level keys that no object's signature checks (``settings.check_settings`` checks the others)."""
    check_number("seed", cfg.seed, "≥ 0", whole=True, hint="e.g. seed=0")
    check_number("ema_decay", cfg.ema_decay, hint="e.g. ema_decay=0.999; 0 turns the EMA off")
    if not isinstance(cfg.get("resume_sweep", False), bool):
        raise ConfigError(f"resume_sweep={cfg.resume_sweep} must be true or false")
    clip = cfg.trainer.get("gradient_clip_val")
    if clip is not None:
        check_number("trainer.gradient_clip_val", clip, "> 0", hint="null turns clipping off")
    if cfg.get("ckpt_path") is not None and not (isinstance(cfg.ckpt_path, str) and Path(cfg.ckpt_path).is_file()):
        raise ConfigError(f"ckpt_path={cfg.ckpt_path}: no such checkpoint; give the path of one, e.g. "
                          "ckpt_path=<run dir>/checkpoints/last.ckpt")


def check_optimization(cfg: DictConfig) -> None:
    """Build the optimizer and the lr schedule on a stand-in parameter, so that a setting they refuse is refused
    before anything trains (the real ones are built when training starts, in ``configure_optimizers``)."""
    optimizer = built("optimizer", cfg.optimizer, [torch.nn.Parameter(torch.zeros(1))])
    if cfg.get("lr_scheduler"):
        instantiate(cfg.lr_scheduler)(optimizer, total_steps=cfg.trainer.max_steps)


def built(key: str, node: DictConfig, *args, **kwargs):
    """``instantiate(node, **kwargs)`` (then called with ``args`` where given: a partial), a library's refusal of a
    setting as one line naming it."""
    try:
        obj = instantiate(node, **kwargs)
        return obj(*args) if args else obj
    except Exception as error:
        refusal = known_failure(error) is None and library_refusal(key, node, error)
        if not refusal:
            raise
        raise refusal from error


def run(cfg: DictConfig) -> float | None:
    """Train and test; return the metric to minimise (``optimized_metric``) for HPO sweepers.

    ``summary.json`` is written at the end whatever happens, with ``status`` finished, failed or interrupted."""
    out = Path(cfg.paths.output_dir)
    first_rank = rank_zero_only.rank == 0
    info = run_info() if first_rank else {}
    if first_rank:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / RUN_INFO, info)
        environment.report_passive_threads()
    launch_state = ddp.launch_state()
    start = time.time()
    summary: dict = {"status": "failed"}
    trainer = module = None
    metrics: dict[str, float] = {}
    try:
        ddp.relaunch_ranks_into_this_job(cfg)
        datamodule, module, trainer = build(cfg)
        if first_rank:  # which rows each split holds (files: the held-out shares and their seed)
            write_json(out / RUN_INFO, {**info, "data": datamodule.describe()})
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
            write_results(out, summary, module)
        finish_loggers(cfg, trainer.loggers if trainer and first_rank else [], summary)
        ddp.end_launch(launch_state)
    return summary.get(cfg.get("optimized_metric"))


def task(cfg: DictConfig) -> float | None:
    """The Hydra task: ``run``, with a bad setting, bad data or divergence shown as one line and a non-zero
    exit (``HYDRA_FULL_ERROR=1`` shows the traceback). In a sweep a failed job returns no value and the sweep goes
    on: the Optuna sweeper records a failed trial (a NaN would stop it: optuna 2.10, which it pins, refuses NaN)."""
    if threading.current_thread() is threading.main_thread():
        sigterm_as_interrupt()
    try:
        return run(cfg)
    except Exception as error:  # noqa: BLE001 (print_one_line re-raises all but a known failure)
        print_one_line(error)
        if environment.in_multirun():
            return None
        sys.exit(1)
