"""Run every benchmark in turn (``make bench``); each prints its own figures."""

from __future__ import annotations

import pkgutil
import runpy
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))
    wanted = sys.argv[1:] or names
    for name in wanted:
        print(f"\n===== bench.{name} =====", flush=True)
        runpy.run_module(f"bench.{name}", run_name="__main__")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
