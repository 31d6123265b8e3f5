"""setuptools' build backend without the wheel: the project runs from its checkout (``train.py`` beside ``conf/``,
neither of which is in the package), so it installs editable (``pip install -e .``, PEP 660's ``build_editable``)
and a wheel (``pip install .``, ``python -m build``) is refused in one line instead of installing a package that
cannot run."""

from setuptools.build_meta import *  # noqa: F401,F403  (every other hook is setuptools' own)

REFUSAL = ("error: diffusion_lightning runs from its checkout (train.py and conf/ are not in the package): install it "
           "with `pip install -e .` from the checkout (README, Install and test)")


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise SystemExit(REFUSAL)
