"""``python -m diffusion_lightning.sweeps.report <sweep dir>``."""

import sys

from .cli import main

sys.exit(main())
