"""``python -m helpers …`` runs the command line (see :mod:`helpers.cli`)."""

import sys

from helpers.cli import main

sys.exit(main())
