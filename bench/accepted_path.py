"""The accepted path end to end (issue 14): holds and purchases per second through the
whole system, and the CPU each process spends per accepted hold, against the two
baselines of the front-door bench on their success path.

``flock /tmp/stampede-bench.lock .venv/bin/python -m bench.accepted_path [--seconds 10]
[--connections 1,32,64,128] [--phases reserve,purchase,redis,pg] [--profile]``

Quick, while iterating: ``... -m bench.accepted_path --phases reserve --connections 64
--seconds 5`` (add ``--profile`` for where the time goes).

The system runs as ``make up`` starts it: ``--gateway-workers`` (2) gateway processes on
one port, ``--notifier-workers`` (2) notifiers, ``--inventory`` (1) inventory, orders, the
embedded broker (tansu) and PostgreSQL (durable), per-client rate limits out of the way.
Each phase gets a fresh drop of ``--stock`` (1,000,000) pairs, one per buyer, whose
waiting room admits everyone and whose holds outlast the run, so every reserve can
succeed. The generator is Debian's ``wrk`` (``bench._load``), every request a new buyer
(``X-User-Id``) with a new ``Idempotency-Key``; closed loop, ``--seconds`` per phase:

- ``reserve``: ``POST /api/drops/{id}/reserve`` at each of ``--connections``
  (``--threads`` wrk threads); accepted holds/s counts the ``201`` answers only;
- ``purchase``: each buyer reserves, then, after the ``201``, purchases with the same
  identity on the same connection (one wrk thread per connection, as that pairing needs);
  completed purchases/s counts the purchase ``201`` answers;
- ``redis`` / ``pg``: the same reserves at ``--baseline-connections`` (64) against
  ``bench.baselines.redis_lua`` (Debian's redis-server) and ``bench.baselines.pg_for_update``
  (a durable PostgreSQL of its own), each with enough stock.

CPU: ``utime + stime`` from ``/proc/<pid>/stat`` of every process of the system, each
with its descendants (PostgreSQL's postmaster and all its backends as one), from just
before wrk starts until the work it left queued downstream is done (the CPU back to its
idle rate, at most 5 s after), divided by the accepted holds (purchases in the purchase
phases): milliseconds of CPU per accepted hold per process and in total (issue 14's
target: <= 1 ms, checked on that gross total), then the share the system would have
spent doing nothing (its idle rate, measured before the first phase, over the phase and
its drain) and the total net of it. wrk's own CPU is shown apart, not in the total.
Latency percentiles are wrk's, of every request (reserves and purchases alike in the
purchase phases). ``--profile``: py-spy (``record -r 200 -f raw
--nonblocking``) on every Python process of the system during the reserve phase at
``--profile-connections`` (64), then the 15 frames with the most self time per process
(that phase's figures carry py-spy's cost).

Bounded (each phase ``--seconds``, 1..60), 127.0.0.1 only, stops by itself; every process
it started is stopped on any exit (Ctrl-C, SIGTERM, error).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from ._load import LEGEND, Load, WrkResult, cpu_line, fmt_ms, measured, others_cores
from ._procs import (
    CpuSampler,
    by_package,
    own_children,
    py_spy,
    stack_parties,
    top_self_frames,
)
from ._stack import (
    admin_client,
    code_version,
    ensure_tool,
    exit_on_sigterm,
    new_drop,
    start_stack,
)
from .baselines import baseline, or_skipped

PHASES = ("reserve", "purchase", "redis", "pg")
PY_SPY = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "py-spy"
HEADER = (f"{'phase':<20} {'ok/s':>8} {'p50':>7} {'p99':>7} {'p99.9':>7} {'wrk':>5} "
          f"{'others':>6} {'cpu ms/ok':>9}  answers (kind:status:code=count)")


def accepted(result: WrkResult) -> int:
    """What the phase is for: purchases in a purchase phase, else holds."""
    return result.count("purchase 201" if result.extra["mode"] == "purchase" else "reserve 201")


def cpu_ms_per(result: WrkResult) -> dict[str, float]:
    ok = accepted(result)
    if not ok:
        return {}
    return {name: 1000 * cpu / ok for name, cpu in result.extra.get("cpu_s", {}).items()}


def idle_ms_per(result: WrkResult, idle: dict[str, float]) -> float | None:
    """The part of the CPU per hold the system would have spent doing nothing."""
    ok = accepted(result)
    seconds = result.seconds + result.extra.get("drain_s", 0.0)
    return 1000 * sum(idle.values()) * seconds / ok if ok and idle else None


def row(result: WrkResult) -> str:
    lat, per = result.latency_ms, cpu_ms_per(result)
    total = f"{sum(per.values()):.2f}" if per else "-"
    return (f"{result.name:<20} {accepted(result) / result.seconds:>8,.0f} {fmt_ms(lat['50']):>7} "
            f"{fmt_ms(lat['99']):>7} {fmt_ms(lat['99.9']):>7} {result.wrk_cores:>5.2f} "
            f"{others_cores(result):>6.2f} {total:>9}  {result.statuses_text()}")


class Run:
    def __init__(self, args: argparse.Namespace, wrk_bin: str, tmp: Path) -> None:
        self.args, self.wrk, self.tmp = args, wrk_bin, tmp
        self.results: list[WrkResult] = []
        self.idle: dict[str, float] = {}
        self.profiles: dict[str, Path] = {}
        self.profiled = ""  # the phase that ran under py-spy

    def phase(self, system: str, name: str, load: Load, sampler: CpuSampler,
              idle: dict[str, float]) -> None:
        result = measured(name, load, sampler, drain_idle=idle, wrk_bin=self.wrk)
        result.extra.update(mode=load.mode, system=system)
        self.results.append(result)
        print(row(result), flush=True)
        print(cpu_line(result) + f" (drain {result.extra['drain_s']:.1f} s)", flush=True)
        if "stderr" in result.extra:
            print(f"  wrk said: {result.extra['stderr']}", flush=True)


@contextmanager
def profiling(run: Run, parties: dict[str, int], name: str) -> Iterator[None]:
    """py-spy on the Python processes of the system (not the broker nor PostgreSQL)."""
    python = {n: p for n, p in parties.items() if n.split("#")[0] not in ("broker", "postgres")}
    out = run.tmp / "profile" / name
    out.mkdir(parents=True, exist_ok=True)
    with py_spy(PY_SPY, python, max(1, int(run.args.seconds)), out) as files:
        yield
    run.profiles = files


def stampede(run: Run) -> None:
    a = run.args
    stack = start_stack(run.tmp / "stack", gateway_workers=a.gateway_workers,
                        notifier_workers=a.notifier_workers, inventory_instances=a.inventory)
    try:
        parties = stack_parties(stack)
        sampler = CpuSampler(parties)
        with admin_client(stack.gateway_url) as admin:
            run.idle = sampler.idle_rate(2.0)
            print("  idle (cores): " + ", ".join(f"{k} {v:.2f}" for k, v in run.idle.items()),
                  flush=True)
            for mode in ("reserve", "purchase"):
                if mode not in a.phases:
                    continue
                for conns in a.connections:
                    threads = conns if mode == "purchase" else min(a.threads, conns)
                    load = Load(port=stack.gateway_port, mode=mode, connections=conns,
                                threads=threads, seconds=a.seconds,
                                drop_id=new_drop(admin, a.stock))
                    name = f"{mode} c={conns}"
                    profile = a.profile and mode == "reserve" and conns == a.profile_connections
                    with profiling(run, parties, name) if profile else nullcontext():
                        run.phase("stampede", name, load, sampler, run.idle)
                    if profile:
                        run.profiled = name
    finally:
        stack.stop()


def compare(run: Run, name: str) -> None:
    """The same reserves against one baseline (``redis`` or ``pg``), with enough stock."""
    a, drop = run.args, str(uuid.uuid4())
    with baseline(name, run.tmp, drop, a.stock) as base:
        sampler = CpuSampler(own_children())
        idle = sampler.idle_rate(1.0)
        conns = a.baseline_connections
        load = Load(port=int(base.rsplit(":", 1)[1]), mode="reserve", connections=conns,
                    threads=min(a.threads, conns), seconds=a.seconds, drop_id=drop)
        run.phase(name, f"{name} c={conns}", load, sampler, idle)


def cpu_table(results: list[WrkResult], idle: dict[str, float]) -> None:
    """Milliseconds of CPU per accepted hold: a row per process, a column per phase."""
    print("\nCPU ms per accepted hold (per purchase in purchase phases), by process:")
    print(f"{'process':<14}" + "".join(f"{r.name:>16}" for r in results))
    per = [cpu_ms_per(r) for r in results]
    names = list(dict.fromkeys(n for p in per for n in p))
    rows = {name: [p.get(name) for p in per] for name in names}
    rows["total"] = [sum(p.values()) if p else None for p in per]
    shares = [idle_ms_per(r, idle) for r in results]
    rows["of it idle"] = shares
    rows["total - idle"] = [t - i if t is not None and i is not None else None
                            for t, i in zip(rows["total"], shares, strict=True)]
    rows["wrk (apart)"] = [1000 * r.wrk_cpu_s / accepted(r) if accepted(r) else None
                           for r in results]
    for name, values in rows.items():
        print(f"{name:<14}" + "".join(f"{v:>16.2f}" if v is not None else f"{'-':>16}"
                                      for v in values))
    print(f"idle: {sum(idle.values()):.2f} cores while the system does nothing ("
          + ", ".join(f"{k} {v:.2f}" for k, v in idle.items()) + "), measured before the "
          "first phase; 'of it idle' is that rate over the phase and its drain, per hold")


def report(run: Run) -> None:
    a, results = run.args, run.results
    if not results:
        return
    print(f"\n== accepted path, {a.seconds:g} s per phase; {a.gateway_workers} gateway, "
          f"{a.notifier_workers} notifier, {a.inventory} inventory process(es); "
          f"drops of {a.stock:,} ==")
    print(HEADER)
    for result in results:
        print(row(result))
    print(LEGEND.replace("per s: answers", "ok/s: accepted holds (purchases)") +
          "; cpu ms/ok: CPU of the whole system per accepted hold (purchase)")
    if run.profiled:
        print(f"{run.profiled} ran under py-spy: its figures carry the profiler's cost, and "
              "py-spy's own CPU is in its 'others'")
    ours = [r for r in results if r.extra["system"] == "stampede"]
    if ours:
        cpu_table(ours, run.idle)
    by_name = {r.name: r for r in results}
    target = by_name.get(f"reserve c={a.baseline_connections}")
    print()
    if target is not None:
        per = sum(cpu_ms_per(target).values())
        net = per - (idle_ms_per(target, run.idle) or 0.0)
        holds = accepted(target) / target.seconds
        print(f"reserve at {a.baseline_connections} connections: {holds:,.0f} holds/s (target >= "
              f"2,000: {'met' if holds >= 2000 else 'NOT met'}), p99 "
              f"{target.latency_ms['99']:.1f} ms (target <= 100: "
              f"{'met' if target.latency_ms['99'] <= 100 else 'NOT met'}), {per:.2f} ms CPU per "
              f"hold (target <= 1: {'met' if per <= 1 else 'NOT met'}; {net:.2f} net of idle)")
        for name in ("redis", "pg"):
            other = by_name.get(f"{name} c={a.baseline_connections}")
            if other is None or not accepted(other):
                continue
            speed = (accepted(target) / target.seconds) / (accepted(other) / other.seconds)
            cost = per / sum(cpu_ms_per(other).values())
            print(f"Stampede / {name} at {a.baseline_connections} connections: holds/s "
                  f"{speed:.2f}x, CPU per hold {cost:.2f}x")
    bought = by_name.get(f"purchase c={a.baseline_connections}")
    if bought is not None:
        print(f"purchase path at {a.baseline_connections} connections: "
              f"{accepted(bought) / bought.seconds:,.0f} purchases/s (each after its hold), "
              f"{sum(cpu_ms_per(bought).values()):.2f} ms CPU per purchase")
    for name, path in run.profiles.items():
        try:
            lines = path.read_text().splitlines()
            total, top = top_self_frames(lines, 15)
        except OSError:
            print(f"\nprofile of {name}: none (py-spy wrote nothing)")
            continue
        print(f"\nprofile of {name}: {total} samples (active), top self time (C code, e.g. "
              "uvloop's loop and its socket I/O, is charged to the Python frame that called "
              "it: Runner.run is time inside uvloop)")
        for frame, count in top:
            print(f"  {100 * count / max(total, 1):5.1f}%  {frame}")
        total, packages = by_package(lines, 10)
        print("  by package (each sample charged to its innermost frame outside asyncio): "
              + ", ".join(f"{name} {100 * count / max(total, 1):.0f}%"
                          for name, count in packages))
        if run.args.profile_keep:
            keep = Path(run.args.profile_keep)
            keep.mkdir(parents=True, exist_ok=True)
            (keep / path.name).write_bytes(path.read_bytes())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each phase")
    parser.add_argument("--connections", default="1,32,64,128",
                        help="comma-separated connection counts of the Stampede phases")
    parser.add_argument("--phases", default=",".join(PHASES),
                        help=f"comma-separated subset of {','.join(PHASES)}")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (reserve phases)")
    parser.add_argument("--baseline-connections", type=int, default=64)
    parser.add_argument("--stock", type=int, default=1_000_000, help="pairs per drop")
    parser.add_argument("--gateway-workers", type=int, default=2)
    parser.add_argument("--notifier-workers", type=int, default=2)
    parser.add_argument("--inventory", type=int, default=1, help="inventory processes")
    parser.add_argument("--profile", action="store_true", help="py-spy the services")
    parser.add_argument("--profile-connections", type=int, default=64)
    parser.add_argument("--profile-keep", default="",
                        help="a directory to keep py-spy's raw profiles in")
    args = parser.parse_args()
    args.phases = [p for p in args.phases.split(",") if p]
    if unknown := set(args.phases) - set(PHASES):
        parser.error(f"unknown phases {sorted(unknown)}; choose from {PHASES}")
    try:
        args.connections = [int(c) for c in args.connections.split(",") if c]
    except ValueError:
        parser.error("--connections is a comma-separated list of numbers")
    if not 1 <= args.seconds <= 60 or not args.connections or not all(
            1 <= c <= 512 for c in [*args.connections, args.baseline_connections]):
        parser.error("--seconds 1..60, connections 1..512 (bounded by design)")
    if not 1 <= args.stock <= 10_000_000 or args.threads < 1:
        parser.error("--stock 1..10000000, --threads >= 1")
    if args.profile and not PY_SPY.exists():
        parser.error(f"--profile needs {PY_SPY} (the dev dependency group has py-spy)")
    return args


def main() -> None:
    args = parse_args()
    exit_on_sigterm()
    wrk_bin = ensure_tool("wrk", "wrk")
    print(f"accepted path: phases {','.join(args.phases)}; connections "
          f"{','.join(map(str, args.connections))} (baselines {args.baseline_connections}); "
          f"{args.seconds:g} s each; drops of {args.stock:,}; {args.gateway_workers} gateway, "
          f"{args.notifier_workers} notifier, {args.inventory} inventory process(es)"
          f"{'; profiling' if args.profile else ''}", flush=True)
    print(f"code: {code_version()}; wrk: {wrk_bin}; {os.cpu_count()} cores", flush=True)
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory(prefix="stampede-bench-") as tmp:
        run = Run(args, wrk_bin, Path(tmp))
        try:
            if {"reserve", "purchase"} & set(args.phases):
                stampede(run)
            for name in ("redis", "pg"):
                if name in args.phases:
                    with or_skipped(name):
                        compare(run, name)
        finally:
            report(run)


if __name__ == "__main__":
    main()

