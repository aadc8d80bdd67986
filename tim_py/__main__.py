"""``python -m tim_py``: the same as the ``tim-py`` command."""
import sys

from .cli import main

sys.exit(main())
