"""``python -m bench.baselines`` (and so ``make bench``, which runs every bench module):
nothing to measure on its own; the baselines are started by ``bench.front_door`` and
``bench.accepted_path``, which print their figures next to Stampede's."""

from __future__ import annotations

if __name__ == "__main__":
    print("bench.baselines: services started by bench.front_door and bench.accepted_path "
          "(run those); nothing to measure on their own")
