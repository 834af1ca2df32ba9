"""``python -m stampede_devstack.warm <module>``: a warm spare of a service.

An interpreter started ahead of need: it imports ``<module>.__main__`` (the service and
everything it uses: most of a start-up's time on this machine, seconds when the cores
are busy) and waits on stdin for one line, a JSON order ``{"env": ..., "log": ...}``
naming the process it is to become. It then takes that environment, writes to that log
and runs the module's ``main()``, as ``python -m <module>`` would have. End of input
before an order: the stack is stopping, it exits.

The stack keeps one spare per slot service (``Stack.supervise``): a dead slot's
replacement then starts in the time its lifespan takes (loading its state) rather than
in the time Python takes to import it.
"""

from __future__ import annotations

import importlib
import json
import os
import sys

READY = "imported, waiting: pid"  # what a spare writes to its log once it is ready


def main() -> int:
    module = sys.argv[1]
    entry = importlib.import_module(f"{module}.__main__")
    print(f"{READY} {os.getpid()}", flush=True)
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    order = json.loads(line)
    log = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    os.environ.clear()
    os.environ.update(order["env"])
    entry.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
