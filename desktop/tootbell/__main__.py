"""Run Tootbell with ``python -m tootbell``."""

import sys

from tootbell.cli import main

sys.exit(main())
