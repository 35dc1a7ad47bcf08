"""``python -m tui.cli`` is the same as ``parkbench``."""

import sys

from tui.cli import main

sys.exit(main())
