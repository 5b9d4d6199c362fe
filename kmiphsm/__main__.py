"""``python -m kmiphsm``: the ``kmiphsm`` command."""

import sys

from kmiphsm.cli.main import main

sys.exit(main())
