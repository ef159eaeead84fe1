"""`python -m bench` (`make bench`): see bench.cli."""

from __future__ import annotations

import sys

from bench.cli import run

if __name__ == "__main__":
    sys.exit(run())
