"""``python -m tim_py.cli``: the same as ``python -m tim_py`` and the ``tim-py`` command."""
import sys

from . import main

sys.exit(main())
