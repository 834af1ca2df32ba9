"""The front door under a sold-out storm (issue 8): Stampede with 1 and 2 gateway
processes, its own ``/healthz``, a Redis + Lua and a PostgreSQL ``SELECT ... FOR UPDATE``
baseline, and the load generator's own ceiling, in one run.

``flock /tmp/stampede-bench.lock .venv/bin/python -m bench.front_door [--seconds 10]
[--connections 32] [--threads 1] [--stock 100] [--phases ceiling,stampede1,stampede2,redis,pg]
[--otlp [--otlp-sample 0.01]]``

The generator is Debian's ``wrk`` (installed with apt-get when missing and run as root)
with a generated Lua script (``bench._load``): every request is a new buyer
(``X-User-Id: <uuid>``, the stack runs in DEV_MODE) with a new ``Idempotency-Key``,
``POST /api/drops/{id}/reserve {"quantity":1}`` on a drop of ``--stock`` pairs, so after
the first moments it is a sold-out storm the gateway answers from its view of the drop
(``409 OUT_OF_STOCK``); ``response()`` counts the answers by status and problem code.

Phases, one system at a time, each ``--seconds`` long, closed loop over ``--connections``
kept-alive connections (``--threads`` wrk threads) unless said otherwise:

1. ``ceiling``: the generator against a fixed answer (``bench.baselines.trivial``), with
   and without counting in Lua: what wrk itself can do on this machine;
2. ``stampede1`` / ``stampede2``: the whole system as ``make up`` starts it (durable
   PostgreSQL, 2 notifier processes) with 1, then 2 gateway processes sharing one port
   (SO_REUSEPORT), per-client rate limits out of the way, a fresh drop per storm whose
   waiting room admits everyone: the storm; ``GET /healthz`` of the same processes (the
   ceiling of that server); then an open-loop storm at ``--fraction`` (80 %) of the
   storm's saturating rate over ``--paced-connections`` (128: enough
   that a connection is rarely still busy when its next request is due, as many buyers
   each on their own connection; latency from each request's intended send time, one wrk
   thread per connection pacing itself through ``delay()``): on the storm's drop, now sold
   out (the steady state the target speaks of), then on a fresh drop (through the
   sell-out, when the first requests wait for the inventory: at 80 % load a backlog
   drains at only a fifth of the rate it formed); preceded by the same open-loop client
   against the fixed answer at the same rate, to show the client keeps that pace with
   room to spare. After each storm the drop's ``/status`` must show exactly ``--stock``
   pairs taken, and as many ``201`` answers: never more;
3. ``redis``: ``bench.baselines.redis_lua`` over Debian's ``redis-server`` (started on a
   free loopback port, AOF fsynced every second), same requests;
4. ``pg``: ``bench.baselines.pg_for_update`` over a PostgreSQL of its own, durable as the
   stack's, same requests.

Prints each phase as it ends (answers/s, p50/p99/p99.9 in ms, wrk's own CPU in cores,
the answers; the CPU of every process of the system in cores), then the table and the
ratios with issue 8's targets: storm / same server's ``/healthz`` >= 0.60, storm / Redis +
Lua >= 1.5, storm / PG FOR UPDATE, p99 <= 50 ms at 80 % of the saturating storm rate.

``--otlp``: tracing on in every service of the stack (``OTEL_EXPORTER_OTLP_ENDPOINT``), the
spans exported over OTLP/HTTP (protobuf, the SDK's batch processor) to a collector in this
process that decodes and counts them (``OtlpSink``): the instrumented path as deployed,
minus a collector's own CPU. Run the same phases with and without it to see what tracing
costs (the note of issue 11); ``--otlp-sample``: the share of traces recorded
(``OTEL_TRACES_SAMPLER_ARG``).

Bounded (each phase ``--seconds``, 1..60; the whole run a few minutes), 127.0.0.1 only,
stops by itself; every process it started is stopped on any exit (Ctrl-C, SIGTERM,
error). ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` name a real broker / database as
for ``make up``. The machine's two cores are shared by the generator and what it
measures: the ratios, measured in the same run, are the figures to watch.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ._load import LEGEND, RESULT_HEADER, Load, WrkResult, cpu_line, measured, result_row
from ._otlp import OtlpReceiver
from ._procs import CpuSampler, own_children, stack_parties
from ._stack import (
    admin_client,
    code_version,
    ensure_tool,
    exit_on_sigterm,
    new_drop,
    start_stack,
    taken,
)
from .baselines import BASELINES, baseline, or_skipped, service

PHASES = ("ceiling", "stampede1", "stampede2", "redis", "pg")


class OtlpSink:
    """An OTLP/HTTP trace receiver on a free loopback port: answers 200, counts the spans."""

    def __init__(self) -> None:
        self.spans = self.exports = 0
        self._receiver = OtlpReceiver(self._count)
        self.url = self._receiver.url

    def _count(self, request: ExportTraceServiceRequest) -> None:
        self.exports += 1
        self.spans += sum(len(ss.spans) for rs in request.resource_spans
                          for ss in rs.scope_spans)

    def close(self) -> None:
        self._receiver.close()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


class Run:
    """The run's settings and what it measured so far (printed as each phase ends)."""

    def __init__(self, args: argparse.Namespace, wrk_bin: str, tmp: Path) -> None:
        self.args = args
        self.wrk = wrk_bin
        self.tmp = tmp
        self.results: dict[str, WrkResult] = {}
        self.sold: dict[str, str] = {}
        self.otlp: OtlpSink | None = None

    def load(self, port: int, mode: Any = "reserve", **kw: Any) -> Load:
        a = self.args
        kw.setdefault("threads", a.threads)
        if mode != "get":
            kw.setdefault("drop_id", str(uuid.uuid4()))
        kw.setdefault("connections", a.connections)
        return Load(port=port, mode=mode, seconds=a.seconds, **kw)

    def phase(self, key: str, name: str, load: Load, sampler: CpuSampler | None) -> WrkResult:
        result = measured(name, load, sampler, wrk_bin=self.wrk)
        self.results[key] = result
        print(result_row(result), flush=True)
        if sampler is not None:
            print(cpu_line(result), flush=True)
        if "stderr" in result.extra:
            print(f"  wrk said: {result.extra['stderr']}", flush=True)
        return result


def fixed_answer() -> CpuSampler:
    """The fixed answer's server: is it, or wrk, the limit of a ceiling phase?"""
    return CpuSampler({k: v for k, v in own_children().items() if k == "trivial"})


def ceiling(run: Run, trivial_port: int) -> None:
    run.phase("ceiling_raw", "generator, no Lua response()",
              run.load(trivial_port, count=False), fixed_answer())
    run.phase("ceiling", "generator, counting in Lua", run.load(trivial_port), fixed_answer())


def stampede(run: Run, workers: int, trivial_port: int | None) -> None:
    a = run.args
    tag = f"stampede{workers}"
    env = None
    if run.otlp is not None:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": run.otlp.url,
               "OTEL_TRACES_SAMPLER_ARG": str(run.args.otlp_sample)}
    stack = start_stack(run.tmp / tag, gateway_workers=workers, notifier_workers=2, env=env)
    try:
        port = stack.gateway_port
        sampler = CpuSampler(stack_parties(stack))
        with admin_client(stack.gateway_url) as admin:
            def storm(key: str, name: str, drop: str | None = None, **kw: Any) -> str:
                """A storm on ``drop`` (a fresh one if None, whose pairs it must take,
                exactly); then the drop's ``/status``, never more than its stock taken."""
                fresh = drop is None
                drop = drop or new_drop(admin, a.stock)
                result = run.phase(key, name, run.load(port, drop_id=drop, **kw), sampler)
                status = taken(admin, drop)
                holds = status["total_stock"] - status["available"]
                won = result.count("reserve 201")
                ok = holds == a.stock and won == (a.stock if fresh else 0)
                run.sold[key] = (f"{'ok' if ok else 'WRONG'}: {holds} of {a.stock} taken "
                                 f"(held {status['held']}, sold {status['sold']}), {won} "
                                 f"answered 201 {'' if fresh else 'on the sold-out drop'}")
                print(f"  {run.sold[key]}", flush=True)
                return drop

            sold_out = storm(tag, f"{workers} gw: storm")
            run.phase(f"{tag}_healthz", f"{workers} gw: /healthz",
                      run.load(port, "get", path="/healthz"), sampler)
            rate = round(a.fraction * run.results[tag].per_s)
            if rate < 1:
                return
            paced = {"rate": rate, "threads": a.paced_connections,
                     "connections": a.paced_connections}
            if trivial_port is not None:  # the idle stack's CPU shown too, not as others'
                both = CpuSampler({**sampler.parties, **fixed_answer().parties})
                run.phase(f"{tag}_paced_client", f"generator paced {rate}/s",
                          run.load(trivial_port, **paced), both)
            share = f"{a.fraction:.0%}"
            storm(f"{tag}_paced", f"{workers} gw: {share} paced, sold out", sold_out, **paced)
            storm(f"{tag}_paced_fresh", f"{workers} gw: {share} paced, fresh", **paced)
    finally:
        stack.stop()


def baseline_parties() -> CpuSampler:
    """The baseline's processes (its server and its store), not the idle fixed answer."""
    return CpuSampler({k: v for k, v in own_children().items() if k != "trivial"})


def compare(run: Run, name: str) -> None:
    """The storm against one baseline (``redis`` or ``pg``)."""
    drop = str(uuid.uuid4())
    with baseline(name, run.tmp, drop, run.args.stock) as base:
        result = run.phase(name, f"{BASELINES[name]}: storm",
                           run.load(port_of(base), drop_id=drop), baseline_parties())
    run.sold[name] = f"{result.count('reserve 201')} answered 201 of {run.args.stock}"


def ratio(run: Run, label: str, top: str, bottom: str, target: float | None = None) -> None:
    r = run.results
    if top not in r or bottom not in r or not r[bottom].per_s:
        return
    value = r[top].per_s / r[bottom].per_s
    verdict = ""
    if target is not None:
        verdict = f"  (target >= {target:g}: {'met' if value >= target else 'NOT met'})"
    print(f"{label:<44} {value:>6.2f}{verdict}")


def report(run: Run) -> None:
    a, r = run.args, run.results
    print(f"\n== front door, {a.seconds:g} s per phase, {a.connections} connections, "
          f"{a.threads} wrk thread(s) (paced: {a.paced_connections}, one thread each), "
          f"drop of {a.stock} ==")
    print(RESULT_HEADER)
    for result in r.values():
        print(result_row(result))
    print(LEGEND + "\n")
    for workers in (1, 2):
        tag = f"stampede{workers}"
        ratio(run, f"storm / /healthz, {workers} gateway process(es)", tag, f"{tag}_healthz", 0.6)
        ratio(run, f"storm / Redis+Lua, {workers} gateway process(es)", tag, "redis", 1.5)
        ratio(run, f"storm / PG FOR UPDATE, {workers} gateway process(es)", tag, "pg")
        if f"{tag}_paced" in r:
            p99 = r[f"{tag}_paced"].latency_ms["99"]
            print(f"{'p99 at ' + f'{a.fraction:.0%} of the storm rate, {workers} gw':<44} "
                  f"{p99:>6.1f} ms  (target <= 50 ms: {'met' if p99 <= 50 else 'NOT met'}; "
                  "a sold-out drop)")
        if f"{tag}_paced_fresh" in r:
            print(f"{'  the same through the sell-out (fresh drop)':<44} "
                  f"{r[f'{tag}_paced_fresh'].latency_ms['99']:>6.1f} ms")
    ratio(run, "storm 2 gw / storm 1 gw", "stampede2", "stampede1")
    storms = [v.per_s for k, v in r.items() if k in ("stampede1", "stampede2", "redis", "pg")]
    if "ceiling" in r and storms:
        print(f"{'generator ceiling (counting) / fastest storm':<44} "
              f"{r['ceiling'].per_s / max(storms):>6.2f}  (wrk's own CPU is in the 'wrk' column)")
    for key in ("ceiling_raw", "ceiling"):
        if key in r and r[key].requests and r[key].wrk_cpu_s:
            us = 1e6 * r[key].wrk_cpu_s / r[key].requests
            print(f"{'wrk CPU per answer, ' + r[key].name:<44} {us:>6.1f} us: one wrk thread "
                  f"could drive ~{1e6 / us:,.0f}/s on a core of its own")
    for key in ("stampede1_paced_client", "stampede2_paced_client"):
        if key in r and r[key].requests:
            us = 1e6 * r[key].wrk_cpu_s / r[key].requests
            print(f"{'wrk CPU per answer, ' + r[key].name:<44} {us:>6.1f} us (open loop: "
                  "each request its own wake-up, on the cores the system also uses)")
    for key, text in run.sold.items():
        print(f"taken, {key:<36} {text}")
    if run.otlp is not None:
        print(f"tracing on: {run.otlp.spans:,} spans received in {run.otlp.exports:,} OTLP "
              "exports")
    else:
        print("tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each phase")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (closed loop)")
    parser.add_argument("--stock", type=int, default=100, help="pairs in each storm's drop")
    parser.add_argument("--fraction", type=float, default=0.8,
                        help="open-loop rate as a fraction of the saturating storm rate")
    parser.add_argument("--paced-connections", type=int, default=128,
                        help="connections (= wrk threads) of the open-loop phases")
    parser.add_argument("--phases", default=",".join(PHASES),
                        help=f"comma-separated subset of {','.join(PHASES)}")
    parser.add_argument("--otlp", action="store_true",
                        help="tracing on, exported over OTLP to a local collector")
    parser.add_argument("--otlp-sample", type=float, default=1.0,
                        help="with --otlp: the share of traces recorded (0..1)")
    args = parser.parse_args()
    phases = [p for p in args.phases.split(",") if p]
    if unknown := set(phases) - set(PHASES):
        parser.error(f"unknown phases {sorted(unknown)}; choose from {PHASES}")
    if not 1 <= args.seconds <= 60 or not 1 <= args.connections <= 512:
        parser.error("--seconds 1..60, --connections 1..512 (bounded by design)")
    if not 1 <= args.threads <= args.connections or not 0 < args.fraction <= 1:
        parser.error("--threads 1..connections, --fraction in (0, 1]")
    if not 1 <= args.paced_connections <= 512:
        parser.error("--paced-connections 1..512")
    if not 1 <= args.stock <= 1_000_000:
        parser.error("--stock 1..1000000")
    exit_on_sigterm()
    wrk_bin = ensure_tool("wrk", "wrk")
    tracing = (f"on (OTLP to a local collector, {args.otlp_sample:g} sampled)" if args.otlp
               else "off")
    print(f"front door: phases {','.join(phases)}; {args.seconds:g} s each, "
          f"{args.connections} connections, {args.threads} wrk thread(s), drop of "
          f"{args.stock}; open loop at {args.fraction:.0%} of the storm rate over "
          f"{args.paced_connections} connections; tracing {tracing}", flush=True)
    print(f"code: {code_version()}; wrk: {wrk_bin}; {os.cpu_count()} cores", flush=True)
    print(RESULT_HEADER, flush=True)
    with ExitStack() as cleanup:
        tmp = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="stampede-bench-")))
        run = Run(args, wrk_bin, tmp)
        if args.otlp:
            run.otlp = OtlpSink()
            cleanup.callback(run.otlp.close)
        trivial = port_of(cleanup.enter_context(service("trivial", tmp / "logs")))
        try:
            for phase in phases:
                if phase == "ceiling":
                    ceiling(run, trivial)
                elif phase.startswith("stampede"):
                    stampede(run, int(phase[-1]), trivial)
                else:
                    with or_skipped(phase):
                        compare(run, phase)
        finally:
            report(run)


if __name__ == "__main__":
    main()
