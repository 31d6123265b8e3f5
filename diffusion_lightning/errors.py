"""Failures that are the input's fault, not the code's: shown as one line, without a traceback."""


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
