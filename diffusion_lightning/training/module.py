"""The LightningModule: a diffusion process (which knows its loss), the reverse network and its optimizer, trained
with one random t per example and evaluated in bits with the EMA weights: at validation by an unbiased stratified
estimate of the bound (``val_strata`` terms per point, whatever T is; exact where T ≤ val_strata), at test by the
exact bound over every t.

A process that learns its schedule (a learned β, the continuous process's end points) has parameters of its own. They
are not network weights: they get their own optimizer group (no weight decay, the learning rate ``schedule_lr``),
their own gradient clipping, and an EMA of their own, so that evaluation pairs the EMA network with the EMA schedule
it was averaged alongside (``eval_net``, ``eval_process``).

Optimization is manual so that one ``training_step`` can run several optimizer steps, one per batch of the stacked
item it is given (``stepping.py`` decides how many). The steps themselves (batch, t, noise, clipping, LR schedule,
EMA) are the same whatever that number is."""

import copy
import logging
import math
from collections.abc import Callable

import lightning as L
import torch
from torch import nn

from .ema import update_ema
from .evaluation import batch_bound
from ..errors import ConfigError, DivergenceError
from ..diffusion.losses import LOG2
from .outputs import test_points_digest
from ..diffusion.processes.base import DiffusionProcess

log = logging.getLogger(__name__)


class DiffusionModule(L.LightningModule):
    def __init__(self, process: DiffusionProcess, net: nn.Module, optimizer: Callable,
                 lr_scheduler: Callable | None = None, ema_decay: float = 0.999, eval_seed: int = 1234,
                 gradient_clip_val: float | None = None, gradient_clip_algorithm: str = "norm",
                 val_strata: int | None = 32, schedule_lr: float | None = None):
        super().__init__()
        self.automatic_optimization = False  # several optimizer steps per training_step, see ``training_step``
        if not 0 <= ema_decay < 1:
            raise ConfigError(f"ema_decay={ema_decay} must lie in [0, 1); 0 turns the EMA off")
        self.process, self.net = process, net
        self.optimizer_factory, self.lr_scheduler_factory = optimizer, lr_scheduler
        if val_strata is not None and (not isinstance(val_strata, int) or val_strata < 2):
            raise ConfigError(f"val_strata={val_strata} must be a whole number ≥ 2 (t = 1 is a stratum of its own), "
                              "or null for the exact bound at every validation; e.g. val_strata=32")
        self.ema_decay, self.eval_seed, self.val_strata = ema_decay, eval_seed, val_strata
        if schedule_lr is not None and not (isinstance(schedule_lr, (int, float)) and schedule_lr > 0):
            raise ConfigError(f"schedule_lr={schedule_lr} must be a number > 0, or null for the optimizer's lr; "
                              "e.g. schedule_lr=1e-3")
        self.gradient_clip_val, self.gradient_clip_algorithm = gradient_clip_val, gradient_clip_algorithm
        self.schedule_lr = schedule_lr
        self.ema = copy.deepcopy(net).requires_grad_(False) if ema_decay > 0 else None
        learns_schedule = any(True for _ in process.parameters())
        self.ema_process = (copy.deepcopy(process).requires_grad_(False)
                            if self.ema is not None and learns_schedule else None)
        self._ema_pairs: tuple[list[nn.Parameter], list[nn.Parameter]] | None = None
        self.history: list[dict[str, float]] = []
        self.val_history: list[dict[str, float]] = []
        self._bits: list[torch.Tensor] = []
        self._null_bits: list[torch.Tensor] = []
        self._per_t_sums: list[torch.Tensor] = []  # each batch's mean term per t, times its points
        self.per_t_bits: torch.Tensor | None = None  # the last evaluation's mean term per t over its whole split
        self.test_bits: tuple[torch.Tensor, str] | None = None  # each test point's bound, and the split's digest

    @property
    def eval_net(self) -> nn.Module:
        """The weights that are evaluated and sampled: the EMA when there is one."""
        return self.ema if self.ema is not None else self.net

    @property
    def eval_process(self) -> DiffusionProcess:
        """The process that is evaluated and sampled: with a learned schedule, the EMA of its parameters, the
        average taken alongside the network's (the same steps, the same decay); else the process itself."""
        return self.ema_process if self.ema_process is not None else self.process

    def training_step(self, batches: torch.Tensor, batch_idx: int) -> None:
        """One optimizer step per batch in ``batches`` ([steps, batch_size, ...]), up to ``max_steps``."""
        optimizer, scheduler = self.optimizers(), self.lr_schedulers()
        for x0 in batches:
            if self._last_step_done():
                break
            loss = self._loss(x0)
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()  # clips first (``on_before_optimizer_step``); the trainer counts the step
            if scheduler is not None:
                scheduler.step()
            self._update_ema()
        if self._last_step_done():
            self.trainer.should_stop = True  # Lightning validates a run that stops: every run ends validated

    def _last_step_done(self) -> bool:
        return 0 <= self.trainer.max_steps <= self.global_step

    def on_before_optimizer_step(self, optimizer) -> None:
        """Clip each parameter group on its own (the network's, and the schedule's where it learns one), so that a
        large gradient of one does not shrink the other's step. Here a mixed-precision plugin has unscaled the
        gradients already (in manual optimization too); ``stepping.steps_per_call`` has checked the settings."""
        if not self.gradient_clip_val:
            return
        for group in optimizer.param_groups:
            if self.gradient_clip_algorithm == "value":
                nn.utils.clip_grad_value_(group["params"], self.gradient_clip_val)
            else:
                nn.utils.clip_grad_norm_(group["params"], self.gradient_clip_val)

    def _loss(self, x0: torch.Tensor) -> torch.Tensor:
        """The training loss with one random t per example; its terms go to the loggers every
        ``log_every_n_steps`` steps, on the axis of optimizer steps."""
        terms = self.process.training_losses(self.net, x0)
        loss = terms["loss"]
        if not math.isfinite(loss.item()):  # torch.isfinite would add a tensor op to every step
            bad = next(k for k, v in terms.items() if not torch.isfinite(v))
            raise DivergenceError(
                f"training diverged at step {self.global_step}: {bad} = {float(terms[bad])}; the learning rate is "
                f"probably too high (lr={self.optimizers().param_groups[0]['lr']:.3g}): lower optimizer.lr, and keep "
                "gradient clipping on (trainer.gradient_clip_val=1.0, the default)"
            )
        if self.global_step % self.trainer.log_every_n_steps == 0:
            values = {f"train/{k}": v.detach().item() for k, v in terms.items()}
            self.history.append({"step": self.global_step, **values})
            for logger in self.loggers:
                logger.log_metrics(values, step=self.global_step)
                logger.save()
        return loss

    def _update_ema(self) -> None:
        if self.ema is None:
            return
        if self._ema_pairs is None:  # the parameters stay the same objects; listing them every step costs
            averaged = [self.ema] + ([self.ema_process] if self.ema_process is not None else [])
            live = [self.net] + ([self.process] if self.ema_process is not None else [])
            self._ema_pairs = [p for m in averaged for p in m.parameters()], [p for m in live for p in m.parameters()]
        update_ema(*self._ema_pairs, self.ema_decay, self.global_step)

    def _bound_step(self, x0: torch.Tensor, strata: int | None = None) -> None:
        """The bound of a batch (exact, or estimated over ``strata``), drawn from ``eval_seed``: every run and every
        validation of a run sees the same x_t (and t), so their bounds differ by the weights alone."""
        bits, per_t = batch_bound(self.eval_process, self.eval_net, x0, self.eval_seed + len(self._bits), strata)
        offset = self.trainer.datamodule.bits_offset  # bits in the data's own units (standardised points: log|det|)
        self._bits.append(bits + offset)
        self._null_bits.append(self.process.null_nll(x0).cpu() / LOG2 + offset)
        self._per_t_sums.append(per_t * len(x0))

    def _log_bound(self, split: str) -> None:
        """Mean bound over the whole split, and its standard error (the Monte-Carlo draws of x_t, and of t in an
        estimate, included)."""
        bits, null = torch.cat(self._bits), torch.cat(self._null_bits).mean().item()
        self.per_t_bits = torch.stack(self._per_t_sums).sum(0) / len(bits)
        for batches in (self._bits, self._null_bits, self._per_t_sums):
            batches.clear()
        bound = bits.mean().item()
        if split == "test":  # kept for paired comparisons between runs (``report/paired.py``)
            self.test_bits = bits, test_points_digest(self.trainer.datamodule.splits["test"])
        self.log("step", float(self.global_step))  # the loggers' x-axis: optimizer steps, as for training
        self.log(f"{split}/nll_bound_bits", bound)
        self.log(f"{split}/prior_nll_bits", null)  # L_null: the data under the prior alone
        self.log(f"{split}/gain_over_prior_bits", null - bound)  # the paper's K − L_null
        self.log(f"{split}/nll_bound_se_bits", (bits.std() / math.sqrt(len(bits))).item() if len(bits) > 1 else 0.0)
        truth = self.trainer.datamodule.true_nll_bits(split)
        if truth is not None:
            self.log(f"{split}/true_nll_bits", truth)
            self.log(f"{split}/gap_bits", bound - truth)
        if split == "val" and bound > null and not getattr(self, "_said_above_prior", False):
            self._said_above_prior = True  # once per run
            opt = self.trainer.optimizers[0] if self.trainer.optimizers else None
            group = opt.param_groups[0] if opt else {}
            lr = f"{group.get('initial_lr', group['lr']):.3g} for {type(opt).__name__}" if opt else "?"
            if self.trainer.is_global_zero:
                log.warning(
                    f"step {self.global_step}: the validation bound ({bound:.3f} bits) is still above what the prior "
                    f"alone costs ({null:.3f} bits, val/prior_nll_bits): the model has not learned the data yet. "
                    f"Likely cause: the learning rate (optimizer.lr={lr}): too small, and steps clipped to norm "
                    "trainer.gradient_clip_val barely move the weights (SGD's default lr is large for this reason); "
                    "too large, and the bound stays high until the lr decays. Or too few steps (trainer.max_steps)")

    def validation_step(self, x0: torch.Tensor, batch_idx: int) -> None:
        self._bound_step(x0, self.val_strata)

    def on_validation_epoch_end(self) -> None:
        self._log_bound("val")

    def on_validation_end(self) -> None:
        """Keep the validation curve (bound and sample metrics) for the figures and ``curves.json``."""
        if not self.trainer.sanity_checking:
            keep = ("val/", "samples/")
            metrics = {k: float(v) for k, v in self.trainer.callback_metrics.items() if k.startswith(keep)}
            self.val_history.append({"step": self.global_step, **metrics})

    def test_step(self, x0: torch.Tensor, batch_idx: int) -> None:
        self._bound_step(x0)

    def on_test_epoch_end(self) -> None:
        self._log_bound("test")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Also keep the RNG that draws t and the noise, and the curves, so a resumed run continues exactly."""
        checkpoint["rng_state"] = torch.get_rng_state()
        checkpoint["history"] = {"train": self.history, "val": self.val_history}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.get("state_dict", {})
        for key in [k for k in state if k.startswith("t_sampler.")]:  # written before the process owned its sampler
            state["process." + key] = state.pop(key)
        if self.ema_process is not None and not any(k.startswith("ema_process.") for k in state):
            # written before the schedule had an EMA: it was evaluated as it was, which its copy continues
            state.update({"ema_" + k: v for k, v in list(state.items()) if k.startswith("process.")})
        if "rng_state" in checkpoint:
            torch.set_rng_state(checkpoint["rng_state"])
        self.history = checkpoint.get("history", {}).get("train", [])
        self.val_history = checkpoint.get("history", {}).get("val", [])

    def configure_optimizers(self):
        """The network's parameters, and in a group of their own the process's where it learns some (a learned
        schedule): no weight decay (it would pull the log-SNR steps or end points toward 0, which has no meaning for
        them), and the learning rate ``schedule_lr`` (null: the optimizer's own lr)."""
        groups = [{"params": list(self.net.parameters())}]
        schedule = list(self.process.parameters())
        if schedule:
            groups.append({"params": schedule, "weight_decay": 0.0,
                           **({"lr": self.schedule_lr} if self.schedule_lr is not None else {})})
        optimizer = self.optimizer_factory(groups)
        if self.lr_scheduler_factory is None:
            return optimizer
        scheduler = self.lr_scheduler_factory(optimizer, total_steps=self.trainer.estimated_stepping_batches)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}  # stepped in ``training_step``
