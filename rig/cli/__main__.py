"""``python -m rig.cli``."""

import sys

from rig.cli import main

sys.exit(main())
