"""Every setting checked against what it builds, before anything is built: each key under a ``_target_`` must have
the type that the target's signature annotates (a whole number, a number, true or false, text, one of a few
choices, a list, or null where allowed), else one line names the key, its value and what it must be. The ranges
(sizes ≥ 1, factors in [0, 1], …) are checked by the objects themselves as they are built; a library's own refusal
(a trainer, callback or optimizer setting) is given as one line naming the setting (``library_refusal``)."""

import collections.abc
import inspect
import os
import types
import typing

from hydra.utils import get_object
from lightning.fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, ListConfig, OmegaConf

from ..errors import ConfigError, shown

LIBRARIES = ("lightning", "torch")  # whose refusals of a setting ``library_refusal`` gives as one line
SEQUENCES = (list, tuple, collections.abc.Sequence, collections.abc.MutableSequence)
MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def check_settings(cfg: DictConfig) -> None:
    """Check every node of ``cfg`` that has a ``_target_`` (``hydra`` aside)."""
    for path, keys in targets(OmegaConf.to_container(cfg, resolve=False)):
        check_node(cfg, path, keys)


def targets(tree: dict, prefix: str = ""):
    """(dotted path, its keys) of every mapping with a ``_target_``, outside ``hydra``; read without resolving."""
    for key, value in tree.items():
        if isinstance(value, dict) and key != "hydra":
            if "_target_" in value:
                yield f"{prefix}{key}", [k for k, v in value.items() if k[0] != "_" and not isinstance(v, dict)]
            yield from targets(value, f"{prefix}{key}.")


def check_node(cfg: DictConfig, path: str, keys: list[str]) -> None:
    try:
        hints = annotations(get_object(OmegaConf.select(cfg, f"{path}._target_")))
    except Exception:  # a target that cannot be found is Hydra's to report when it builds it
        return
    for key in keys:
        if key in hints and not fits(value := OmegaConf.select(cfg, f"{path}.{key}"), hints[key]):
            raise ConfigError(f"{path}.{key}={shown(value)} must be {describe(hints[key])}")


def annotations(target) -> dict[str, object]:
    """The target's parameters' annotations (its ``__init__``'s for a class), resolved; none where they cannot be."""
    function = target.__init__ if inspect.isclass(target) else target
    try:
        return typing.get_type_hints(function)
    except Exception:  # one name that does not resolve: keep those that are objects already
        try:
            parameters = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):
            return {}
        return {p.name: p.annotation for p in parameters if p.annotation is not p.empty and not isinstance(
            p.annotation, str)}


def arms(annotation) -> tuple | None:
    """The alternatives of a Union (``X | Y``, ``Optional[X]``), or None for any other annotation."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return None


def fits(value, annotation, alternative: bool = False) -> bool:
    """Whether a setting's value can be what ``annotation`` asks for. An annotation this does not know (a class of
    the library's own) passes, unless it is one ``alternative`` of a Union: a setting never is such an object, so
    ``lr: float | Tensor`` asks a setting for a number."""
    if (alternatives := arms(annotation)) is not None:
        return any(fits(value, arm, alternative=True) for arm in alternatives)
    origin = typing.get_origin(annotation) or annotation
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if inspect.isclass(origin) and issubclass(origin, os.PathLike):
        return isinstance(value, (str, os.PathLike))
    if origin in SEQUENCES:
        return isinstance(value, (list, tuple, ListConfig))
    if origin in MAPPINGS:
        return isinstance(value, (dict, DictConfig))
    return not alternative


def describe(annotation) -> str:
    """What ``annotation`` asks for, in words: ``a whole number or null``."""
    if (alternatives := arms(annotation)) is not None:
        words = [describe(arm) for arm in alternatives]
        return " or ".join(dict.fromkeys(w for w in words if w))
    origin = typing.get_origin(annotation) or annotation
    if origin is typing.Literal:
        return "one of " + ", ".join(shown(v) for v in typing.get_args(annotation))
    words = {type(None): "null", bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    if annotation in words:
        return words[annotation]
    if origin in SEQUENCES:
        return "a list"
    if origin in MAPPINGS:
        return "a mapping"
    if inspect.isclass(origin) and issubclass(origin, os.PathLike):
        return "a path"
    return ""


def library_refusal(key: str, node: DictConfig, error: BaseException) -> ConfigError | None:
    """A library's refusal of a setting of the object at ``key`` (Lightning's trainer or callbacks, torch's
    optimizer) as one line naming the setting, or None for any other error. The libraries check these settings when
    they build the object and name the argument in their message: ``callbacks.checkpoint.mode=abc: `mode` can be
    min, max but got abc``."""
    while error is not None and not isinstance(error, (MisconfigurationException, ValueError, TypeError)):
        error = error.__cause__
    if error is None or not type(error).__module__.startswith("lightning") and not raised_in_library(error):
        return None
    reason = " ".join(str(error).split())
    keys = [k for k in node if k[0] != "_"]
    named = next((k for k in keys if f"{k}=" in reason or f"`{k}`" in reason), None) or next(
        (k for k in keys if k in reason), None)  # as the library writes an argument, else anywhere
    if named is None:
        return ConfigError(f"{key}: {reason}; its settings are {key}.* (docs/reference/configuration.md)")
    return ConfigError(f"{key}.{named}={shown(OmegaConf.select(node, named))}: {reason}")


def raised_in_library(error: BaseException) -> bool:
    """Whether ``error`` was raised inside Lightning's or torch's own code (not this package's)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = tb.tb_frame.f_code.co_filename if tb is not None else ""
    return any(f"{os.sep}{library}{os.sep}" in where for library in LIBRARIES)
