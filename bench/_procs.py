"""CPU time of the processes a bench started, read from ``/proc``, and py-spy profiles.

A *party* is one process the bench started and everything below it (PostgreSQL's
postmaster and its backends, a service and any worker it forks). Its CPU time is
``utime + stime + cutime + cstime`` summed over the live processes of its tree: a child
that exits between two samples is not lost, the kernel adds its time to its parent's
``cutime``/``cstime`` when it is reaped.

Parties are found by what the bench owns, never by a service's internals: the pid of
every ``ServiceProcess`` of a :class:`~stampede_devstack.stack.Stack` (named as the stack
names them: ``gateway-0``, ``inventory-0``, ``orders``, ``notifier-1``, ...), and the
bench's other children named by their command line (``tansu`` -> broker, ``postgres``,
``redis-server``, ...).
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Stat:
    """The fields of ``/proc/<pid>/stat`` a CPU sampler needs (times in clock ticks)."""

    pid: int
    comm: str
    ppid: int
    utime: int
    stime: int
    cutime: int
    cstime: int

    @property
    def ticks(self) -> int:
        """Own time plus that of every reaped descendant."""
        return self.utime + self.stime + self.cutime + self.cstime


def parse_stat(text: str) -> Stat:
    """One ``/proc/<pid>/stat`` line. ``comm`` is in parentheses and may itself hold
    spaces and parentheses, so the fields are counted from the last ``)``."""
    head, _, tail = text.rpartition(")")
    pid, _, comm = head.partition(" (")
    fields = tail.split()  # fields[0] is field 3 (state)
    return Stat(pid=int(pid), comm=comm, ppid=int(fields[1]), utime=int(fields[11]),
                stime=int(fields[12]), cutime=int(fields[13]), cstime=int(fields[14]))


def read_stat(pid: int) -> Stat | None:
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None  # gone, or went away while being read


def all_stats() -> dict[int, Stat]:
    found = (read_stat(int(p)) for p in os.listdir("/proc") if p.isdigit())
    return {s.pid: s for s in found if s is not None}


def tree(stats: Mapping[int, Stat], root: int) -> list[int]:
    """``root`` and its live descendants, as pids."""
    children: dict[int, list[int]] = {}
    for s in stats.values():
        children.setdefault(s.ppid, []).append(s.pid)
    out, todo = [], [root] if root in stats else []
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def tree_seconds(stats: Mapping[int, Stat], root: int) -> float:
    return sum(stats[p].ticks for p in tree(stats, root)) / CLOCK_TICKS


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


#: how a child of the bench that is not a Stack service is named, by its command line
PROGRAMS = (("tansu", "broker"), ("postgres", "postgres"), ("redis-server", "redis"))


def name_of(argv: list[str]) -> str | None:
    """The party name of a process started by the bench, from its command line."""
    if not argv:
        return None
    program = Path(argv[0]).name
    for needle, name in PROGRAMS:
        if program.startswith(needle):
            return name
    if "-m" in argv[:-1]:  # python -m <module>: the module's last part
        return argv[argv.index("-m") + 1].rsplit(".", 1)[-1].removeprefix("stampede_")
    return None


def own_children() -> dict[str, int]:
    """The bench's child processes that :func:`name_of` names: name -> pid (a second
    process of the same name gets ``name#2``)."""
    me = os.getpid()
    out: dict[str, int] = {}
    for stat in sorted(all_stats().values(), key=lambda s: s.pid):
        if stat.ppid != me or (name := name_of(cmdline(stat.pid))) is None:
            continue
        key, i = name, 2
        while key in out:
            key, i = f"{name}#{i}", i + 1
        out[key] = stat.pid
    return out


def stack_parties(stack: object) -> dict[str, int]:
    """Every process of a started Stack: its services by the stack's names, then the
    broker and PostgreSQL (children of the bench named by their command line)."""
    services: dict[str, int] = {}
    for name, proc in getattr(stack, "services", {}).items():
        popen = getattr(proc, "proc", None)
        if popen is not None and popen.poll() is None:
            services[name] = popen.pid
    others = {n: p for n, p in own_children().items()
              if p not in services.values() and n.split("#")[0] in ("broker", "postgres")}
    return {**services, **others}


class CpuSampler:
    """CPU seconds per party since it was created (sample, then subtract)."""

    def __init__(self, parties: Mapping[str, int]) -> None:
        self.parties = dict(parties)

    def sample(self) -> dict[str, float]:
        """CPU seconds of every party still alive (a party that died is left out)."""
        stats = all_stats()
        return {name: tree_seconds(stats, pid) for name, pid in self.parties.items()
                if pid in stats}

    @staticmethod
    def delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
        """Seconds spent between two samples by the parties alive at both."""
        return {name: after[name] - before[name] for name in after if name in before}

    def idle_rate(self, seconds: float) -> dict[str, float]:
        """CPU seconds per second of every party while nothing is asked of it."""
        before = self.sample()
        time.sleep(seconds)
        return {k: v / seconds for k, v in self.delta(before, self.sample()).items()}

    def drain(self, idle: Mapping[str, float], *, step_s: float = 0.5,
              max_s: float = 5.0) -> float:
        """After the load stops, wait (at most ``max_s``) until the parties' CPU use is
        back near their idle rate (within 25 % + 0.05 core: idle use itself varies that
        much), so work queued behind the load (events still flowing downstream) is
        charged to the phase that caused it. Returns the seconds waited."""
        threshold = 1.25 * sum(idle.values()) + 0.05
        start = time.monotonic()
        last = self.sample()
        while time.monotonic() - start < max_s:
            time.sleep(step_s)
            now = self.sample()
            if sum(self.delta(last, now).values()) / step_s <= threshold:
                break
            last = now
        return time.monotonic() - start


def children_cpu_s() -> float:
    """User + system seconds of the bench's reaped children (wrk, once waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu_s() -> float:
    """User + system seconds of the bench process itself (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def host_pace_ms(rounds: int = 3) -> float:
    """Milliseconds one core takes for a fixed piece of pure Python (the best of
    ``rounds``): this host's speed right now. It varies over a day by up to 1.7x with no
    CPU stolen that /proc/stat shows, so figures of runs far apart compare only divided
    by it (lower is faster)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i * i % 7
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def machine_busy_s() -> float:
    """Non-idle CPU seconds of the whole machine (every process, every core)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLOCK_TICKS


# -- py-spy ----------------------------------------------------------------------------

def _tally(collapsed: Iterable[str], key: Callable[[list[str]], str],
           n: int) -> tuple[int, list[tuple[str, int]]]:
    """(samples, the ``n`` keys with the most samples) of py-spy's ``-f raw`` output: one
    ``frame;frame;...;leaf count`` line per distinct stack, each charged to
    ``key(frames)``."""
    counts: Counter[str] = Counter()
    total = 0
    for line in collapsed:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        counts[key(stack.split(";"))] += int(count)
        total += int(count)
    return total, counts.most_common(n)


def top_self_frames(collapsed: Iterable[str], n: int = 15) -> tuple[int, list[tuple[str, int]]]:
    """(samples, the ``n`` frames with the most self samples)."""
    return _tally(collapsed, lambda frames: frames[-1], n)


#: packages whose frames are glue: a sample is charged to the innermost frame outside them
GLUE = frozenset({"asyncio", "contextlib", "functools", "typing", "abc", "weakref",
                  "_weakrefset", "threading", "selectors"})
#: a sample whose leaf is here is the event loop itself (uvloop's C code runs under it)
LOOP_FILES = ("asyncio/runners.py", "asyncio/base_events.py", "uvloop/")


def _package(frame: str) -> str:
    """``func (pkg/mod.py:12)`` -> ``pkg`` (``mod`` for a top-level module)."""
    where = frame.rpartition(" (")[2]
    path = where.split(":", 1)[0]
    head = path.split("/", 1)[0]
    return head.removesuffix(".py")


def _owner(frames: list[str]) -> str:
    """The package of the innermost frame that is not glue; 'event loop' for the loop
    itself or a stack of glue alone."""
    if frames[-1].rpartition(" (")[2].startswith(LOOP_FILES):
        return "event loop"
    for frame in reversed(frames):
        package = _package(frame)
        if package not in GLUE:
            return package
    return "event loop"


def by_package(collapsed: Iterable[str], n: int = 10) -> tuple[int, list[tuple[str, int]]]:
    """(samples, the ``n`` packages with the most samples), each sample charged to the
    innermost frame whose package is not asyncio's (or other glue's); a stack of glue alone
    is 'event loop' (the loop itself, its selector and uvloop's C code)."""
    return _tally(collapsed, _owner, n)


@contextmanager
def py_spy(py_spy_bin: Path, parties: Mapping[str, int], seconds: int,
           out_dir: Path, rate: int = 200) -> Iterator[dict[str, Path]]:
    """``py-spy record -f raw`` on every party for ``seconds`` while the body runs (the
    samplers are waited for, or killed, when it ends). ``--nonblocking``: the profiled
    process is not paused per sample, so the measurement it perturbs least."""
    outputs = {name: out_dir / f"{name}.raw" for name in parties}
    procs = [subprocess.Popen(
        [str(py_spy_bin), "record", "-r", str(rate), "-d", str(seconds), "-f", "raw",
         "--nonblocking", "-o", str(outputs[name]), "-p", str(pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        for name, pid in parties.items()]
    try:
        yield outputs
    finally:
        for proc in procs:
            try:
                proc.wait(seconds + 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
