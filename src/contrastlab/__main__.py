"""``python -m contrastlab`` (and ``torchrun -m contrastlab train ...``): the command line."""

import sys

from contrastlab.cli import main

sys.exit(main())
