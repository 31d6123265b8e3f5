"""Every key of the composed configuration (as docs/scripts/config_reference.py walks it), given a value of the wrong
type and an impossible one, as a new user might: building the run (``training.run.build``, no training) either
refuses it with one line that names the key, or takes it because it is legal (``LEGAL``, each with its reason).
The default configuration, then each other option of a group for the keys that option brings."""

import signal

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from diffusion_lightning.errors import known_failure
from diffusion_lightning.training.run import build

from .conftest import ROOT

BASE = ["debug=fast", "logger=none"]
CONTEXTS = [[], ["data=heartbeat"], ["data=heartbeat", "model=conv"], ["data=heartbeat", "model=per_step"],
            ["model=slides"], ["schedule=cosine"], ["schedule=log_snr_linear"], ["schedule=constant"],
            ["schedule=learned"], ["loss=hybrid"], ["loss/t_sampler=uniform"], ["optimizer=sgd_momentum"],
            ["optimizer=adamw"], ["lr_scheduler=exponential"], ["process=gaussian_continuous"]]
SKIPPED = ("paths.", "hydra.")  # where the run writes, and Hydra's own settings
LEGAL = {  # values that build, and why they are right to
    "callbacks.figures.seed=-5": "torch's generator takes any whole number as a seed",
    "callbacks.sample_metrics.seed=-5": "torch's generator takes any whole number as a seed",
    "data.split_seed=-5": "torch's generator takes any whole number as a seed",
    "data.val_fraction=-5.0": "read only for data from a file (data.train_file), where it is checked in one line",
    "data.test_fraction=-5.0": "read only for data from a file (data.train_file), where it is checked in one line",
    "optimized_metric=abc": "any summary key; the task returns None for one the run does not report",
    "sweep_name=abc": "any name for a sweep's directory",
    "callbacks.checkpoint.filename=abc": "any file name",
    "callbacks.checkpoint.monitor=abc": "Lightning refuses a metric that no validation logs when one runs",
    "trainer.check_val_every_n_epoch=-5": "Lightning's; validation is counted in steps (val_check_interval)",
    "trainer.num_sanity_val_steps=-5": "Lightning's: a negative count checks every validation batch",
    "data.s_min=-5.0": "a roll may start at any angle below s_max",
    "schedule.log_snr_start=-5.0": "any log-SNR above log_snr_end",
    "schedule.log_snr_end=-5.0": "any log-SNR below log_snr_start",
    "process.gamma_0=-5": "any −log SNR below gamma_1",
    "process.gamma_1=-5": "any −log SNR above gamma_0 (from β_1 by default)",
}

SETS = {  # a key whose value another key takes, which the refusal names: a model's parameterisation sets the process's
    "model.parameterisation.prediction": "process.prediction", "model.parameterisation.variance": "process.variance"}


def leaves(node, prefix=""):
    """(dotted key, value as written) of every setting, interpolations unresolved."""
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from leaves(value, f"{path}.")
        elif not str(key).startswith("_") and not (isinstance(value, str) and "${" in value):
            yield path, value


def wrong_values(value) -> list[str]:
    """A value of the wrong type and an impossible one for a setting whose default is ``value``."""
    if isinstance(value, bool):
        return ["abc", "2"]
    if isinstance(value, int):
        return ["abc", "-5"]
    if isinstance(value, float):
        return ["abc", "-5.0"]
    if value is None:
        return ["abc", "-5"]
    return ["abc"] if isinstance(value, str) else []


def compose_run(*overrides: str, output_dir: str = "unused"):
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        return compose("train", overrides=[*BASE, f"paths.output_dir={output_dir}", *overrides])


def cases() -> list:
    """(context, override) for each key of the default config, and for each key that another option adds."""
    seen, found = set(), []
    for context in CONTEXTS:
        tree = OmegaConf.to_container(compose_run(*context), resolve=False)
        for key, value in leaves(tree):
            if key.startswith(SKIPPED) or key in seen:
                continue
            seen.add(key)
            found += [pytest.param(context, f"{key}={v}", id=" ".join([*context, f"{key}={v}"]))
                      for v in wrong_values(value)]
    return found


@pytest.mark.parametrize("context, override", cases())
def test_a_wrong_value_is_refused_in_one_line_naming_its_key_or_is_legal(tmp_path, context, override):
    cfg = compose_run(*context, override, output_dir=str(tmp_path))
    handler = signal.getsignal(signal.SIGTERM)
    try:
        build(cfg)
    except Exception as error:
        known = known_failure(error)
        assert known is not None, f"{override}: a traceback ({type(error).__name__}: {error})"
        message, key = str(known), override.split("=")[0]
        assert "\n" not in message and (key in message or SETS.get(key, key) in message), message
    else:
        assert override in LEGAL, f"{override} builds: refuse it in one line, or say in LEGAL why it is right"
    finally:
        signal.signal(signal.SIGTERM, handler)


@pytest.mark.parametrize("override", ["trainer.devices=0", "callbacks.checkpoint.mode=maximum"])
def test_a_refusal_of_lightnings_names_the_setting_it_is_about(tmp_path, override):
    """Lightning's message mentions other settings too (``devices=0 … using cpu accelerator``): the one it writes
    as an argument is named."""
    handler = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(Exception) as info:
            build(compose_run(override, output_dir=str(tmp_path)))
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert str(known_failure(info.value)).startswith(f"{override}: ")
