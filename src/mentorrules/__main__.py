"""`python -m mentorrules` runs the command line."""

import sys

from mentorrules.cli import main

sys.exit(main())
