"""Every override that an error message or warning suggests (``key=value`` in the package's strings) composes: a
hint never names a key or an option that does not exist."""

import ast
import logging
import re

import pytest
import torch
from hydra.errors import HydraException
from hydra.utils import instantiate
from omegaconf.errors import OmegaConfBaseException

from diffusion_lightning.diffusion.losses import LOG2
from diffusion_lightning.errors import ConfigError
from diffusion_lightning.training.run import warn_if_signal_survives

from .conftest import ROOT

GROUPS = "process|data|model|loss|loss/t_sampler|schedule|optimizer|lr_scheduler|trainer|callbacks|logger|experiment"
HINT = re.compile(rf"(?<![\w./{{-])(\+?(?:{GROUPS})(?:\.\w+)*|T|seed|steps_per_batch|ema_decay)=([\w.+-]+)(?![\w{{])")
# a hint is given where it applies: binary data (process.prior), the toy suite (data.name, data.dim), the continuous
# process (γ ends), hybrid (λ), a learned schedule (its own keys)
CONTEXTS = ([], ["data=heartbeat"], ["data=toy"], ["process=gaussian_continuous"], ["loss=hybrid"], ["schedule=learned"])


def strings(path) -> list[str]:
    """The string literals of a module (the literal parts of f-strings included)."""
    tree = ast.parse(path.read_text())
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def hints() -> list[str]:
    found = set()
    for path in (ROOT / "diffusion_lightning").rglob("*.py"):
        for text in strings(path):
            found.update(f"{key}={value}" for key, value in HINT.findall(text))
    return sorted(found)


def test_the_messages_hint_at_overrides():
    assert {"process.variance=fixed_small", "process.prediction=x0", "process.prior=0.5", "loss=hybrid"} <= set(hints())


@pytest.mark.parametrize("override", hints())
def test_a_hinted_override_composes(make_cfg, override):
    errors = []
    for context in CONTEXTS:
        try:
            make_cfg(*context, override)
            return
        except (HydraException, OmegaConfBaseException) as error:
            errors.append(str(error).splitlines()[0])
    pytest.fail(f"{override} composes in no context: {errors}")


class SignalLeft:
    """A process whose prior term always costs a bit per point: the schedule leaves signal at t = T."""

    def prior_term(self, x0):
        return torch.full((len(x0),), LOG2)


@pytest.mark.parametrize("schedule", sorted(p.stem for p in (ROOT / "conf" / "schedule").glob("*.yaml")))
def test_the_schedule_hints_name_keys_of_the_schedule_chosen(make_cfg, caplog, schedule):
    """The warning that the prior does not fit names a key the schedule has, or another schedule."""
    cfg = make_cfg(f"schedule={schedule}")
    with caplog.at_level(logging.WARNING, logger="diffusion_lightning.training.run"):
        warn_if_signal_survives(SignalLeft(), torch.zeros(4, 2), cfg.schedule)
    named = re.findall(r"schedule\.(\w+)|schedule=(\w+)", caplog.text)
    assert named, caplog.text
    for key, option in named:
        assert key in cfg.schedule if key else (ROOT / "conf" / "schedule" / f"{option}.yaml").is_file()


@pytest.mark.parametrize("overrides", [["schedule=sohl_dickstein", "process=gaussian"],
                                       ["schedule=log_snr_linear", "schedule.log_snr_start=800"]])
def test_a_schedule_refused_by_the_process_is_not_told_to_change_keys_it_lacks(make_cfg, overrides):
    """β_T = 1 (Gaussian), β_1 = 0 in float64 (a log-SNR of 800): refused with a schedule to choose instead."""
    cfg = make_cfg(*overrides)
    with pytest.raises(ConfigError) as info:
        instantiate(cfg.process)(betas=instantiate(cfg.schedule)(T=cfg.T))
    assert "beta_start" not in str(info.value) and "schedule=linear" in str(info.value)
