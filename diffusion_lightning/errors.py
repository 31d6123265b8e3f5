"""Failures that are the input's fault, not the code's: shown as one line, without a traceback."""

import math
import os
import sys


class ConfigError(ValueError):
    """A bad setting or data file; the message names the key (or file and line), the value and what is allowed."""


class DivergenceError(RuntimeError):
    """A non-finite loss; the message names the step, the term and a likely fix."""


def known_failure(error: BaseException) -> BaseException | None:
    """The ConfigError or DivergenceError behind ``error`` (Hydra wraps errors raised while instantiating)."""
    while error is not None:
        if isinstance(error, (ConfigError, DivergenceError)):
            return error
        error = error.__cause__
    return None


def print_one_line(error: BaseException) -> None:
    """Print the known failure behind ``error`` as one line on stderr; raise ``error`` where it is not one, or
    where ``HYDRA_FULL_ERROR=1`` asks for the traceback. Called from an ``except`` block."""
    known = known_failure(error)
    if known is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise error
    print(f"error: {known}", file=sys.stderr)


def shown(value) -> str:
    """A setting's value as it is written on the command line (``null`` for None)."""
    return "null" if value is None else str(value)


def in_interval(value: float, interval: str) -> bool:
    """Whether ``value`` lies in ``interval``: ``(a, b)``, ``[a, b]`` (either end open or closed), ``> a``, ``≥ a``,
    ``< a``, ``≤ a``, or "" (any finite number)."""
    if not interval:
        return True
    if interval[0] in "([":
        low, high = (float(end) for end in interval[1:-1].split(","))
        above = value > low if interval[0] == "(" else value >= low
        return above and (value < high if interval[-1] == ")" else value <= high)
    op, bound = interval.split()
    return {">": value > float(bound), "≥": value >= float(bound), "<": value < float(bound),
            "≤": value <= float(bound)}[op]


def check_number(key: str, value, interval: str = "", whole: bool = False, hint: str = ""):
    """``value`` where it is a finite number (a whole one where ``whole``; a bool is not a number) in ``interval``
    (see ``in_interval``), else a one-line ConfigError naming ``key``, what it must be, and ``hint``."""
    kinds = (int,) if whole else (int, float)
    if (isinstance(value, kinds) and not isinstance(value, bool) and math.isfinite(value)
            and in_interval(value, interval)):
        return value
    where = f" in {interval}" if interval[:1] in "([" and interval else f" {interval}" if interval else ""
    raise ConfigError(f"{key}={shown(value)} must be {'a whole number' if whole else 'a number'}{where}"
                      + (f"; {hint}" if hint else ""))
