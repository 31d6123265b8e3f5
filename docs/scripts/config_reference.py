"""The configuration reference, generated from conf/: ``python docs/scripts/config_reference.py``.

Writes docs/reference/configuration.md: the top-level keys of conf/train.yaml, the keys of the commands that use a
trained run (conf/sample.yaml, conf/evaluate.yaml), then every config group with every
option (its header comment, what it builds on, its ``_target_``), every key with its default and comment, and the
arguments each ``_target_`` accepts that the config does not list, which a command line adds with ``+``. The targets
are introspected (``inspect.signature``), never instantiated. tests/test_docs.py fails when the committed page
differs from what this script renders."""

import inspect
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import get_method

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
PAGE = ROOT / "docs" / "reference" / "configuration.md"
KEY = re.compile(r"^(\s*)([A-Za-z_][\w\-]*):(.*)$")
HIDDEN = {"_target_", "_partial_", "defaults"}  # targets are listed below each table
PLUGIN_GROUPS = ("hydra/launcher", "hydra/sweeper")
COMMANDS = ("sample", "evaluate")  # conf/<name>.yaml: the commands that use a trained run
RUNTIME = {  # the arguments diffusion_lightning/training/run.py passes when it builds a group's object
    "process": {"betas", "loss", "data"}, "schedule": {"T"}, "schedule.init": {"T"}, "model": {"in_dim", "out_dim", "T"},
    "trainer": {"callbacks", "logger", "plugins"},
}
GROUPS = {  # what each group is for, in one line; the options and keys below are read from conf/
    "data": "the datamodule: which data, its size and batches",
    "process": "the diffusion process, built at run time from the schedule, the loss and the data",
    "schedule": "the β schedule (a function of T), or a learned one",
    "loss": "the training objective; its t sampler is the nested group `loss/t_sampler`",
    "loss/t_sampler": "how each example's t is drawn",
    "optimizer": "the optimizer, bound to the parameters at run time (`_partial_`)",
    "lr_scheduler": "the learning-rate schedule over the run's optimizer steps",
    "slides_optimizer": "the five optimizer settings of the course-project slides (optimizer + lr + lr_scheduler)",
    "model": "the reverse network",
    "trainer": "`lightning.Trainer`'s arguments, counted in optimizer steps",
    "logger": "where metrics and figures go besides summary.json and curves.json",
    "callbacks": "checkpoints, sample metrics, figures, the progress bar; `callbacks.<name>=null` drops one",
    "paths": "where a run writes",
    "hydra": "run and sweep directories, the sweep's callbacks",
    "hydra/launcher": "how the jobs of a `-m` sweep run; options without a file here come from Hydra's plugins",
    "hydra/sweeper": "what expands the sweep: the grid (`basic`) or an Optuna search",
    "experiment": "bundles of settings (recipes); `~experiment` drops the one that follows the data",
    "sweep": "preset grids for `-m`",
    "debug": "short runs to check that everything works",
    "debug/data": "what a `debug` option changes in the data, chosen by train.yaml as `<debug>_<data>`",
}


@dataclass
class Key:
    path: str
    value: str
    comment: str


@dataclass
class Option:
    name: str
    header: list[str]
    keys: list[Key]
    defaults: list[str] = field(default_factory=list)
    targets: dict[str, dict] = field(default_factory=dict)


def read_keys(text: str, prefix: str) -> list[Key]:
    """Every key of a YAML file with its value as written and its comment (inline, or the comment lines just above
    it), dotted under ``prefix``; keys of nested mappings have an empty value."""
    keys, stack, above = [], [], []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            if keys:  # comment lines before the first key are the file's header
                above.append(line.lstrip()[1:].strip())
            continue
        match = KEY.match(line)
        if not match:
            above = [] if not line.strip() or not line.lstrip().startswith("-") else above
            continue
        indent, name, rest = len(match[1]), match[2], match[3]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, name))
        value, _, comment = rest.partition(" #")
        path = ".".join(k for k in [prefix, *(k for _, k in stack)] if k)
        keys.append(Key(path, value.strip(), comment.strip() or " ".join(above)))
        above = []
    return [k for k in keys if not HIDDEN & set(k.path.split("."))]


def header(text: str) -> list[str]:
    """The file's leading comment lines, without Hydra's ``@package`` directive."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if not line.startswith("# @package"):
            lines.append(line[1:].rstrip())
    return lines


def defaults_of(data: dict) -> list[str]:
    """What an option builds on: its defaults list, written as on a command line."""
    out = []
    for entry in data.get("defaults") or []:
        out.extend([f"{k}: {v}" for k, v in entry.items()] if isinstance(entry, dict) else [entry])
    return out


def target_nodes(data, path: str = ""):
    """(dotted path, node) of every mapping with a ``_target_`` in a config."""
    if isinstance(data, dict):
        if "_target_" in data:
            yield path, data
        for key, value in data.items():
            yield from target_nodes(value, f"{path}.{key}" if path else key)


def shown(value) -> str:
    text = repr(value)
    return type(value).__name__ if " at 0x" in text else text


def accepted(node: dict, path: str) -> dict:
    """The target's arguments that the node does not set: those with a default (add them with ``+``) and, for a
    ``_partial_`` target, those without one (the framework gives them when it builds the object)."""
    params = inspect.signature(get_method(node["_target_"])).parameters.values()
    free = [p for p in params if p.name not in node and p.name != "self"
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    given = RUNTIME.get(path, set())
    return {"plus": [f"{p.name}={shown(p.default)}" for p in free if p.default is not p.empty and p.name not in given],
            "runtime": [p.name for p in free if p.default is p.empty or p.name in given],
            "kwargs": any(p.kind is p.VAR_KEYWORD for p in params)}


def read_option(path: Path, group: str) -> Option:
    text = path.read_text()
    data = yaml.safe_load(text) or {}
    global_ = "# @package _global_" in text
    prefix = "" if global_ else group.replace("/", ".")
    option = Option(path.stem, header(text), read_keys(text, prefix), defaults_of(data))
    if not group.startswith("hydra"):
        for node_path, node in target_nodes(data):
            full = ".".join(k for k in (prefix, node_path) if k)
            option.targets[full] = {"target": node["_target_"], **accepted(node, full)}
    return option


def group_options(group: str) -> list[str]:
    """A group's options: its conf/ files and, for the launcher and the sweeper, those of Hydra's plugins."""
    if group in PLUGIN_GROUPS:
        return sorted(GlobalHydra.instance().config_loader().get_group_options(group))
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


def groups() -> list[str]:
    found = sorted(str(p.relative_to(CONF)) for p in CONF.rglob("*") if p.is_dir())
    return [g for g in GROUPS if g in found or g in PLUGIN_GROUPS] + [g for g in found if g not in GROUPS]


def cell(text: str) -> str:
    """Table-safe Markdown: outside code spans, escape the characters Markdown or the table would read."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("|", "\\|").replace("*", "\\*").replace("<", "&lt;").replace("_", "\\_")
    return "`".join(parts)


def prose(lines: list[str]) -> list[str]:
    """A header comment as Markdown: indented lines (commands) as a code block, the rest as one paragraph."""
    out, text, code = [], [], []
    for line in [*lines, "", "."]:
        if line.startswith("   ") and line.strip():
            if text:
                out += [cell(" ".join(text)), ""]
                text = []
            code.append(line.strip())
            continue
        if code:
            out += ["```bash", *code, "```", ""]
            code = []
        if line.strip() and line != ".":
            text.append(line.strip())
        elif text:
            out += [cell(" ".join(text)), ""]
            text = []
    return out


def key_table(keys: list[Key]) -> list[str]:
    rows = [f"| `{k.path}` | {f'`{k.value}`' if k.value else ''} | {cell(k.comment)} |" for k in keys
            if k.value or k.comment]
    return ["| key | default | what |", "|---|---|---|", *rows, ""] if rows else []


def target_lines(path: str, info: dict) -> list[str]:
    lines = [f"- `{path}` builds `{info['target']}`."]
    if info["plus"]:
        lines.append(f"  Its other arguments, each added with `+`: "
                     + ", ".join(f"`+{path}.{p}`" if path else f"`+{p}`" for p in info["plus"]) + ".")
    if info["runtime"]:
        lines.append("  Given by the framework when it builds the object: "
                     + ", ".join(f"`{p}`" for p in info["runtime"]) + ".")
    if info["kwargs"]:
        lines.append("  It also takes keyword arguments of its own (`**kwargs`), added with `+` as well.")
    return lines


def train_section() -> list[str]:
    text = (CONF / "train.yaml").read_text()
    data = yaml.safe_load(text)
    comments = {}
    for line in text.splitlines():
        match = re.match(r"^\s*- ((?:optional )?[\w/]+): ([^#]*?)\s*(?:#\s*(.*))?$", line)
        if match:
            comments[match[1]] = (match[2], match[3] or "")
    lines = ["## `train.yaml`: the defaults and the top-level keys", "", *prose(header(text)),
             "The defaults list, in the order Hydra merges it (a later entry overrides an earlier one):", "",
             "| group | default option | why |", "|---|---|---|"]
    for entry in data["defaults"]:
        name = next(iter(entry)) if isinstance(entry, dict) else entry
        default, why = comments.get(name, ("", ""))
        lines.append(f"| `{name}` | {f'`{default}`' if default else 'this file'} | {cell(why)} |")
    return [*lines, "", "Top-level keys:", "", *key_table(read_keys(text, ""))]


def command_section(name: str) -> list[str]:
    """A command that uses a trained run (``sample.py``, ``evaluate.py``): its header and its keys."""
    text = (CONF / f"{name}.yaml").read_text()
    keys = [k for k in read_keys(text, "") if k.path.split(".")[0] != "hydra"]
    return [f"## `{name}.yaml`: the keys of `{name}.py`", "", *prose(header(text)), *key_table(keys)]


def option_section(group: str, name: str) -> list[str]:
    path = CONF / group / f"{name}.yaml"
    if not path.is_file():
        return [f"### `{group}={name}`", "", "Provided by an installed Hydra plugin; its keys are in the plugin's documentation.", ""]
    option = read_option(path, group)
    lines = [f"### `{group}={name}`", "", *prose(option.header)]
    if option.defaults:
        lines += ["Builds on: " + ", ".join(f"`{d}`" for d in option.defaults) + ".", ""]
    lines += key_table(option.keys)
    for target_path, info in option.targets.items():
        lines += target_lines(target_path, info)
    return [*lines, ""] if option.targets else lines


def render() -> str:
    lines = ["# Configuration reference", "",
             "<!-- Generated by `python docs/scripts/config_reference.py` from conf/; do not edit by hand. -->", "",
             "Every config group of `conf/`, every option with its own comment, every key with its default, and the "
             "arguments a `_target_` accepts beyond those listed. A key listed here is set as `key=value`; an "
             "argument that the config does not list needs a leading `+` (`+key=value`), because Hydra refuses "
             "keys a config does not have. A group's option is chosen with `group=option`; `~group` drops it.",
             "", *train_section(), *(line for name in COMMANDS for line in command_section(name))]
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        for group in groups():
            lines += [f"## `{group}`", "", GROUPS.get(group, "").capitalize() + ".", ""]
            for name in group_options(group):
                lines += option_section(group, name)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(render())
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
