"""``python -m diffusion_lightning.report <sweep dir>``."""

import sys

from .cli import main

sys.exit(main())
