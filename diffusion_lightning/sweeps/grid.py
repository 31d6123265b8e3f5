"""The jobs of a grid sweep, numbered as Hydra's basic sweeper launches them, from a launch's ``hydra`` config (or a
sweep's ``multirun.yaml``): the sweeper's ``params``, then the command line's overrides, read by Hydra's public
``OverridesParser`` and each swept value listed by ``Override.sweep_string_iterator`` (choices, ranges, globs).

The product of the swept values is the project's own code: Hydra's (``BasicSweeper.split_arguments``) is not public
API. A glob over a config group (``glob(sgd*)``) needs the group's options, which only Hydra's ``ConfigLoader``
lists (``hydra.core``; the compose API composes one config and lists nothing): the running app's, or one that the
public ``initialize_config_dir`` starts over the sweep's config directory. ``tests/test_grid.py`` checks all of it
against the jobs of a real ``-m`` launch, glob included."""

import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from hydra import initialize_config_dir
from hydra.core.config_loader import ConfigLoader
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, Override, RangeSweep, ValueType

GRID_SWEEPER = "basic"  # hydra/sweeper=basic, Hydra's default sweeper: the product of the swept values


def grid_jobs(hydra: Mapping) -> list[list[str]] | None:
    """Each job's overrides, in job-number order: the product of the swept values in the order the keys first come,
    a later override of a key replacing an earlier one. None where the jobs are not known before they run: another
    sweeper (e.g. Optuna), a shuffled sweep, or a glob whose config group cannot be listed here."""
    if ((hydra.get("runtime") or {}).get("choices") or {}).get("hydra/sweeper") != GRID_SWEEPER:
        return None
    params = [f"{k}={v}" for k, v in ((hydra.get("sweeper") or {}).get("params") or {}).items()]
    arguments = [*params, *((hydra.get("overrides") or {}).get("task") or [])]
    overrides = OverridesParser.create().parse_overrides(arguments)
    if any(o.value_type == ValueType.GLOB_CHOICE_SWEEP for o in overrides):
        with config_loader(hydra) as loader:
            if loader is None:
                return None
            return product(OverridesParser.create(config_loader=loader).parse_overrides(arguments))
    return product(overrides)


def product(overrides: list[Override]) -> list[list[str]] | None:
    values: dict[str, list[str]] = {}
    for o in overrides:
        key = o.get_key_element()
        if not o.is_sweep_override():
            values[key] = [f"{key}={o.get_value_element_as_str()}"]
        elif o.is_discrete_sweep() and not (isinstance(o.value(), (ChoiceSweep, RangeSweep)) and o.value().shuffle):
            values[key] = [f"{key}={v}" for v in o.sweep_string_iterator()]
        else:  # an interval (the basic sweeper refuses it) or a shuffled choice or range (a random job order)
            return None
    return [list(job) for job in itertools.product(*values.values())]


@contextmanager
def config_loader(hydra: Mapping) -> Iterator[ConfigLoader | None]:
    """The loader that lists a glob's config group: the running Hydra app's, else one for the sweep's own config
    directory (its ``hydra.runtime.config_sources``); None where that directory is gone."""
    if GlobalHydra.instance().is_initialized():
        yield GlobalHydra.instance().config_loader()
        return
    sources = (hydra.get("runtime") or {}).get("config_sources") or []
    main = next((s["path"] for s in sources if s.get("provider") == "main" and s.get("schema") == "file"), None)
    if main is None or not Path(main).is_dir():
        yield None
        return
    with initialize_config_dir(config_dir=str(Path(main).resolve()), version_base="1.3"):
        yield GlobalHydra.instance().config_loader()
