"""`python -m host_tools` is the same as the `nbkit` console script."""

import sys

from host_tools.cli import main

sys.exit(main())
