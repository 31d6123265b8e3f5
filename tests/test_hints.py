"""Every override that an error message or warning suggests (``key=value`` in the package's strings) composes: a
hint never names a key or an option that does not exist."""

import ast
import re

import pytest
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

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
