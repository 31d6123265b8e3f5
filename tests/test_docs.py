"""The docs are tested like code: every ``python train.py ...`` (``sample.py``, ``evaluate.py``) command that README.md
and docs/ show composes with Hydra's compose API (a ``-m`` sweep: its first and last job; nothing is trained), the
Python of docs/using-a-run.md runs, so does its heartbeat script (docs/scripts/), the generated configuration
reference matches conf/, the README's links and pictures exist, and the site builds with ``mkdocs build --strict``."""

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep
from omegaconf import OmegaConf, open_dict

from .conftest import copy_as_sweep

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.S | re.M)
SHELL = {"", "bash", "sh", "shell"}  # code blocks whose lines are commands (```text shows output and errors)
ENTRY = re.compile(r"python (?:train|sample|evaluate)\.py")  # the commands, each composed by its conf/<name>.yaml
INLINE = re.compile(r"`(python (?:train|sample|evaluate)\.py[^`]*)`")
PLACEHOLDER = re.compile(r"<[^<>`]*>")  # <run dir>, <stamp>, <partition>: any path or name
FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p"}
SHELL_OPERATORS = {"&", "&&", ";", "|", ">"}  # the command ends there
PARSER = OverridesParser.create()


def shown_commands(text: str) -> list[str]:
    """Each ``python train.py ...`` (``sample.py``, ``evaluate.py``) of a page: in code blocks (continuation lines
    joined) and in inline code."""
    found = []
    for lang, block in FENCE.findall(text):
        if lang.strip() not in SHELL:
            continue
        for line in block.replace("\\\n", " ").splitlines():
            match = ENTRY.search(line)
            if match:
                found.append(line[match.start():])
    found += [" ".join(m.split()) for m in INLINE.findall(FENCE.sub("", text))]
    return found


def all_commands() -> list[tuple[str, str]]:
    return [(str(page.relative_to(ROOT)), command) for page in PAGES for command in shown_commands(page.read_text())]


def overrides_of(command: str) -> tuple[bool, list[str]]:
    """(whether it is a ``-m`` sweep, its overrides), with placeholders made concrete and flags dropped."""
    words = shlex.split(PLACEHOLDER.sub("placeholder", command), comments=True)[2:]
    multirun, overrides, skip = False, [], False
    for word in words:
        if word in SHELL_OPERATORS:
            break
        if skip:
            skip = False
        elif word in ("-m", "--multirun"):
            multirun = True
        elif word in FLAGS_WITH_VALUE:
            skip = True
        elif not word.startswith("-"):
            overrides.append(word)
    return multirun, overrides


def values(override) -> list[str]:
    if isinstance(override.value(), IntervalSweep):
        return [str(override.value().start), str(override.value().end)]
    return list(override.sweep_string_iterator())


def compose_job(overrides: list[str]):
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose("train", overrides=[*overrides, "paths.output_dir=placeholder"], return_hydra_config=True)
    params = dict(cfg.hydra.sweeper.get("params") or {})
    with open_dict(cfg):
        del cfg["hydra"]
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    return params


def jobs(overrides: list[str]) -> list[list[str]]:
    """The first and the last job of a sweep, with the grid of a ``sweep=`` preset (``hydra.sweeper.params``)
    expanded under the command line's own sweeps, as Hydra's basic sweeper does."""
    parsed = PARSER.parse_overrides(overrides)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    swept = {o.get_key_element(): values(o) for o in parsed if o.is_sweep_override()}
    first = [*fixed, *(f"{k}={v[0]}" for k, v in swept.items())]
    params = compose_job(first)
    given = {key.lstrip("+~") for key in [o.get_key_element() for o in parsed]}
    for key, grid in params.items():
        if key not in given:
            swept[key] = values(PARSER.parse_overrides([f"{key}={grid}"])[0])
    return [[*fixed, *(f"{k}={v[i]}" for k, v in swept.items())] for i in (0, -1)]


def compose_command(name: str, overrides: list[str]) -> None:
    """``python <name>.py OVERRIDES`` (sample, evaluate) composed by its conf/<name>.yaml, every value resolved."""
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        OmegaConf.to_container(compose(name, overrides=overrides), resolve=True, throw_on_missing=True)


@pytest.mark.parametrize(("page", "command"), all_commands())
def test_a_shown_command_composes(page, command):
    multirun, overrides = overrides_of(command)
    name = command.split()[1].removesuffix(".py")
    if name != "train":
        compose_command(name, overrides)
        return
    for job in jobs(overrides) if multirun else [overrides]:
        compose_job(job)


def test_the_pages_show_commands_and_the_collector_finds_continuations():
    assert len(all_commands()) >= 30
    text = "```bash\npython train.py -m hydra/launcher=slurm \\\n  trainer=gpu seed=0,1  # two jobs\n```\n"
    assert shown_commands(text) == ["python train.py -m hydra/launcher=slurm    trainer=gpu seed=0,1  # two jobs"]
    assert overrides_of(shown_commands(text)[0]) == (True, ["hydra/launcher=slurm", "trainer=gpu", "seed=0,1"])


def test_a_preset_sweep_expands_to_its_grid():
    first, last = jobs(["sweep=swissroll_steps", "seed=0,1,2"])
    assert first[-2:] == ["seed=0", "T=40"] and last[-2:] == ["seed=2", "T=1000"]


def test_a_renamed_key_fails_to_compose():
    with pytest.raises(Exception, match="optimizer.learning_rate"):
        compose_job(overrides_of("python train.py optimizer.learning_rate=1e-3")[1])
    with pytest.raises(Exception, match="data.test_files"):
        compose_command("evaluate", overrides_of("python evaluate.py run=<run> data.test_files=x.csv")[1])
    with pytest.raises(Exception, match="run"):  # required
        compose_command("sample", overrides_of("python sample.py n=10")[1])


def script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_python_of_using_a_run_runs(trained_run, tmp_path, monkeypatch):
    """Each ``python`` block of docs/using-a-run.md in turn, in one namespace, from a directory where
    multirun_outputs/walkthrough is a sweep of two finished jobs (copies of a run trained in the tests: the page's
    sweep takes minutes) and tests/ is the repository's."""
    copy_as_sweep(trained_run[0], tmp_path / "multirun_outputs" / "walkthrough", ["finished", "finished"])
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    monkeypatch.chdir(tmp_path)
    blocks = [block for lang, block in FENCE.findall((ROOT / "docs" / "using-a-run.md").read_text())
              if lang.strip() == "python"]
    assert len(blocks) >= 5
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/using-a-run.md", "exec"), namespace)
    assert len(namespace["runs"]) == 2 and (tmp_path / "walkthrough_samples.png").is_file()


def test_the_heartbeat_anomaly_script_scores_corruptions(trained_heartbeat, tmp_path, capsys):
    anomalies = script("heartbeat_anomalies")
    normal, generator = torch.tensor([[0, 1, 0, 1.0], [1, 0, 1, 0]]), torch.Generator().manual_seed(0)
    flipped, dropped = anomalies.flip_one_bit(normal, generator), anomalies.drop_one_beat(normal, generator)
    assert ((flipped != normal).sum(1) == 1).all()
    assert ((dropped != normal).sum(1) == 1).all() and (dropped <= normal).all()
    assert anomalies.roc_auc(np.array([1.0, 2]), np.array([3.0, 4])) == 1.0
    assert anomalies.roc_auc(np.array([1.0, 2]), np.array([1.0, 2])) == 0.5
    assert anomalies.roc_auc(np.array([3.0, 4]), np.array([1.0, 2])) == 0.0
    assert anomalies.main([str(trained_heartbeat), "--n", "100", "--out", str(tmp_path / "h.png")]) == 0
    out = capsys.readouterr().out
    assert "one beat missing     100" in out and (tmp_path / "h.png").stat().st_size > 0


def reference_module():
    return script("config_reference")


def test_the_configuration_reference_is_not_stale():
    module = reference_module()
    assert module.render() == module.PAGE.read_text(), "run: python docs/scripts/config_reference.py"


def test_the_reference_lists_every_option_and_the_plus_keys():
    page = (ROOT / "docs" / "reference" / "configuration.md").read_text()
    for option in (ROOT / "conf").rglob("*.yaml"):
        group = str(option.parent.relative_to(ROOT / "conf"))
        if group != ".":
            assert f"### `{group}={option.stem}`" in page, option
    assert "`+schedule.init.beta_end=None`" in page and "`+trainer.precision=None`" in page


def test_the_readme_is_a_face_and_its_links_exist():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    targets = re.findall(r"\]\(([^)#\s]+)[^)]*\)", text)
    local = [t for t in targets if "://" not in t]
    assert local and all((ROOT / t).exists() for t in local), [t for t in local if not (ROOT / t).exists()]
    assert 'pip install -e ".[dev]"' in text and "\npytest\n" in text


def test_the_site_builds_strictly(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "reference" / "configuration" / "index.html").is_file()
