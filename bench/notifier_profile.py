"""py-spy around the notifier processes for ``bench.notifier_fanout --profile DIR``.

py-spy is not a project dependency: ``.venv/bin/pip install py-spy`` (or ``uv pip``)
first. Each notifier is sampled (``py-spy record --format raw``: folded stacks) while the
events go by; ``top`` prints the functions with the largest share of samples, by own
time (the frame on top of the stack) and inclusive time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

TOP = 12


def _short(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (file.py)``."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rstrip(')').rsplit(':', 1)[0].rsplit('/', 1)[-1]})"


class Profiler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self._procs: list[subprocess.Popen[bytes]] = []
        self._outputs: list[Path] = []

    def start(self, pids: list[int], duration_s: float) -> None:
        if not Path(self._spy).exists():
            print("  (py-spy not installed: no profile)", file=sys.stderr)
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        for pid in pids:
            out = self.directory / f"notifier-{pid}.txt"
            self._outputs.append(out)
            self._procs.append(subprocess.Popen(
                [self._spy, "record", "--pid", str(pid), "--duration", str(round(duration_s)),
                 "--rate", "200", "--format", "raw", "--nonblocking", "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def finish(self) -> None:
        for proc in self._procs:
            proc.wait(120)

    def top(self) -> str:
        own: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        total = 0
        for path in self._outputs:
            if not path.exists():
                continue
            for line in path.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                frames = [_short(f) for f in stack.split(";") if f]
                if not frames or not count.isdigit():
                    continue
                total += int(count)
                own[frames[-1]] += int(count)
                for frame in set(frames):
                    inclusive[frame] += int(count)
        if not total:
            return "  (no profile samples)"
        lines = [f"  profile ({total} samples, {self.directory}): own time"]
        lines += [f"    {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(TOP)]
        lines.append("  inclusive, under the event loop:")
        skip = {"Runner.run (runners.py)", "run (main.py)", "Server.run (server.py)"}
        common = [(f, n) for f, n in inclusive.most_common(TOP + 12)
                  if n < total * 0.97 and f not in skip][:TOP]
        lines += [f"    {100 * n / total:5.1f}%  {f}" for f, n in common]
        return "\n".join(lines)
