"""Nano quality and speed benchmark; same as ``ttt bench nano --json``.

python benchmarks/bench_nano.py [--sessions 32 --steps 600 ...]
"""

from __future__ import annotations

import sys

from ttt.cli.main import app

if __name__ == "__main__":
    app(["bench", "nano", "--json", *sys.argv[1:]])
