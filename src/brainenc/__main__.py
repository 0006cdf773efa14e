"""Run the ``brainenc`` command: ``python -m brainenc demo``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
