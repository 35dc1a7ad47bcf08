"""``python -m parkbench.tui.cli`` is the same as ``parkbench``."""

import sys

from parkbench.tui.cli import main

sys.exit(main())
