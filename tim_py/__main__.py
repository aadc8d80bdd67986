"""``python -m tim_py``: the same as the ``tim-py`` command."""
import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while Python starts: as the command would say it, no traceback
    sys.stderr.write("tim-py: interrupted\n")
    sys.exit(130)

sys.exit(main())
