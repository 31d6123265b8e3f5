"""The training task: build data, process, network, module, callbacks, loggers and trainer from a
Hydra config; fit, test, and leave ``summary.json`` and ``curves.json`` in the run directory."""

import json
import math
import os
import time
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from .module import DiffusionModule
from .processes import BinomialDiffusion, GaussianDiffusion
from .processes.base import DiffusionProcess


def build_process(cfg: DictConfig, datamodule, betas: torch.Tensor) -> DiffusionProcess:
    """The forward process named by ``process.name``, checked against the kind of data."""
    name, kind = cfg.process.name, datamodule.kind
    if name == "gaussian":
        if kind != "continuous":
            raise ValueError(f"process=gaussian needs continuous data, and data is {kind}; use process=binomial")
        variance = cfg.process.variance
        if variance == "auto":
            variance = "fixed_small" if cfg.loss.name == "mse" else "learned_range"
        return GaussianDiffusion(betas, cfg.process.prediction, variance)
    if name == "binomial":
        if kind != "binary":
            raise ValueError(f"process=binomial needs binary data, and data is {kind}; use process=gaussian")
        prior = datamodule.mean_activity() if cfg.process.prior == "data" else float(cfg.process.prior)
        return BinomialDiffusion(betas, prior, cfg.process.prediction)
    raise ValueError(f"process={name!r} is not known; choose gaussian or binomial")


def build(cfg: DictConfig) -> tuple[L.LightningDataModule, DiffusionModule, L.Trainer]:
    """Everything a run needs, from the composed config."""
    if not isinstance(cfg.T, int) or cfg.T < 1:
        raise ValueError(f"T={cfg.T} must be a whole number ≥ 1 (the number of diffusion steps); e.g. T=100")
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    process = build_process(cfg, datamodule, instantiate(cfg.schedule)(T=cfg.T))
    dim = math.prod(datamodule.shape)
    net = instantiate(cfg.model)(in_dim=dim, out_dim=process.out_dim(dim), T=cfg.T)
    module = DiffusionModule(
        process, net, optimizer=instantiate(cfg.optimizer), loss=cfg.loss.name,
        hybrid_lambda=cfg.loss.get("lambda", 1e-3),
        lr_scheduler=instantiate(cfg.lr_scheduler) if cfg.get("lr_scheduler") else None, ema_decay=cfg.ema_decay,
    )
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    return datamodule, module, trainer


def write_json(path: Path, obj) -> None:
    """Write whole or not at all: a reader never sees a half-written file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def run(cfg: DictConfig) -> float | None:
    """Train and test; return the metric to minimise (``optimized_metric``) for HPO sweepers."""
    out = Path(cfg.paths.output_dir)
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
        summary["error"] = f"{type(error).__name__}: {error}"
        raise
    finally:
        if trainer is None or trainer.is_global_zero:
            metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()} if trainer else {})
            if "test/true_nll_bits" in metrics:
                metrics["true_nll_bits"] = metrics["test/true_nll_bits"]
            summary.update(metrics, wall_time_s=round(time.time() - start, 2), step=trainer.global_step if trainer else 0)
            out.mkdir(parents=True, exist_ok=True)
            write_json(out / "summary.json", summary)
            if module is not None:
                write_json(out / "curves.json", {"train": module.history, "val": module.val_history})
        if cfg.get("logger") and "wandb" in cfg.logger:
            import wandb

            wandb.finish()
    return summary.get(cfg.get("optimized_metric"))
