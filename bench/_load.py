"""Load from ``wrk`` (Debian's, with a generated Lua script); the system it loads is ``_stack``'s.

One :class:`Load` describes one wrk run; :func:`wrk_script` writes its Lua, :func:`run_wrk`
runs it and :func:`parse_wrk` reads the one ``BENCH-JSON {...}`` line the script's
``done()`` prints. What the script can do:

- ``get``: the same request every time (wrk's static fast path unless counting or pacing);
- ``reserve``: ``POST /api/drops/{id}/reserve`` ``{"quantity":1}``, every request from a
  fresh buyer (``X-User-Id: <uuid>``, DEV_MODE) with a fresh ``Idempotency-Key``;
- ``purchase``: the same reserve, then, after its ``201``, ``POST .../purchase`` by the
  same buyer on the same connection. wrk's ``response()`` does not say which connection
  answered, so this needs one connection per wrk thread (``threads == connections``):
  then a thread's Lua state is its connection's state;
- ``count``: a ``response()`` that counts answers by kind, status and problem ``code``
  (``reserve 409 OUT_OF_STOCK``). It costs the generator (wrk then copies every header
  and body into Lua): the benches show its ceiling with and without;
- ``rate``: open loop. Each connection (one per thread) sends on its own schedule,
  ``connections / rate`` apart, whatever happened to the request before it, through
  wrk's ``delay()`` hook; latency is measured in Lua from the *intended* send time
  (``clock_gettime`` through LuaJIT's ffi), so a stall is charged to every request it
  held back (no coordinated omission), and requests still due when the run ends count
  as unanswered, with their wait so far (those due more than 200 ms before the end:
  wrk's threads stop up to 100 ms late). Closed-loop latency is wrk's own (with its
  correction for coordinated omission). Pacing costs wrk far more CPU per request than
  the closed loop (every request is its own timer and wake-up, nothing batches: ~100 us
  against ~15 us here), and on two shared cores that is load too: the benches print it.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any, Literal

from ._procs import CpuSampler, children_cpu_s, host_pace_ms, machine_busy_s, own_cpu_s

Mode = Literal["get", "reserve", "purchase"]


@dataclass(frozen=True)
class Load:
    """One wrk run: what to send, how many connections, how long, open or closed loop."""

    port: int
    mode: Mode
    connections: int
    seconds: float
    path: str = "/healthz"  # get mode
    drop_id: str = ""  # reserve / purchase modes
    threads: int = 1
    count: bool = True
    rate: float | None = None  # open loop: requests per second over all connections
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))

    def __post_init__(self) -> None:
        if self.mode != "get" and not self.drop_id:
            raise ValueError(f"{self.mode} needs a drop id")
        if (self.mode == "purchase" or self.rate) and self.threads != self.connections:
            raise ValueError("purchase and open-loop runs need one connection per thread")
        if self.mode == "purchase" and not self.count:
            raise ValueError("purchase needs response() (count=True)")
        if not 1 <= self.threads <= self.connections <= 1024:
            raise ValueError("1 <= threads <= connections <= 1024")
        if len(self.run_id) != 8 or not all(c in "0123456789abcdef" for c in self.run_id):
            raise ValueError("run_id is 8 lowercase hex digits (a uuid's first group)")

    @property
    def wants_response(self) -> bool:
        return self.count or self.rate is not None or self.mode == "purchase"

    @property
    def dynamic(self) -> bool:
        return self.mode != "get" or self.rate is not None


def lua_string(text: str) -> str:
    """``text`` as a double-quoted Lua string literal."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"')
               .replace("\r", "\\r").replace("\n", "\\n"))
    return f'"{escaped}"'


def _request_template(load: Load, method: str, path: str, body: str | None) -> str:
    """An HTTP/1.1 request with ``%s`` for the buyer and the idempotency key."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{load.port}",
             "Accept: application/json"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    if load.mode != "get":
        lines += ["X-User-Id: %s", "Idempotency-Key: %s"]
    return "\r\n".join(lines) + "\r\n\r\n" + (body or "").replace("%", "%%")


_CLOCK = """\
local ffi = require("ffi")
ffi.cdef[[
struct bench_timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clock_id, struct bench_timespec *tp);
]]
local timespec = ffi.new("struct bench_timespec")
local function now_us()  -- CLOCK_MONOTONIC, the same for every thread
  ffi.C.clock_gettime(1, timespec)
  return tonumber(timespec.tv_sec) * 1e6 + tonumber(timespec.tv_nsec) / 1e3
end
"""

_STATE = """\
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  n = 0            -- buyers this thread started
  statuses = {}    -- "<kind> <status>[ <code>]" -> answers
  lat = {}         -- open loop: latency (us) of every answer from its intended send time
  kind = KIND      -- what the request in flight is
  pending = nil    -- purchase mode: the buyer whose hold came back, to buy next
  due = nil        -- open loop: intended send time of the request in flight
  next_due = nil   -- open loop: intended send time of the next request
  interval = RATE and CONNECTIONS * 1e6 / RATE or nil
end

local function buyer(k)  -- a uuid unique to (run, thread, k), version-4 shaped
  return string.format("%s-%04x-4000-8000-%012x", RUN, tid, k)
end
"""

_REQUEST = """\
function request()
  local req
  if pending then
    kind = "purchase"
    req = string.format(PURCHASE, pending, string.format("%s-%d-%d-p", RUN, tid, n))
    pending = nil
  else
    n = n + 1
    kind = KIND
    current = buyer(n)
    req = string.format(REQUEST, current, string.format("%s-%d-%d-r", RUN, tid, n))
  end
  if RATE then
    if not next_due then next_due = now_us() + (tid - 1) * 1e6 / RATE end
    due = next_due
    next_due = next_due + interval
  end
  return req
end
"""

_STATIC_PACED_REQUEST = """\
function request()
  if not next_due then next_due = now_us() + (tid - 1) * 1e6 / RATE end
  due = next_due
  next_due = next_due + interval
  return REQUEST
end
"""

_DELAY = """\
function delay()  -- wrk asks before every request of this thread's one connection
  if not next_due then next_due = now_us() + (tid - 1) * 1e6 / RATE end
  -- wrk's timers count whole milliseconds: round up, never send before the due time
  local wait_ms = math.ceil((next_due - now_us()) / 1000)
  return wait_ms > 0 and wait_ms or 0
end
"""

_RESPONSE = """\
function response(status, headers, body)
  local key = kind .. " " .. status
  if status >= 400 then
    local code = string.match(body, '"code"%s*:%s*"([%w_]+)"')
    if code then key = key .. " " .. code end
  end
  statuses[key] = (statuses[key] or 0) + 1
  if kind == "reserve" and status == 201 and MODE == "purchase" then pending = current end
  if RATE and due then
    lat[#lat + 1] = now_us() - due
    due = nil
  end
end
"""

_DONE = """\
local function json_object(t, quote)
  local parts = {}
  for k, v in pairs(t) do
    parts[#parts + 1] = string.format('"%s":%s', k, quote and ('"' .. v .. '"') or v)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

local GRACE = 200000  -- us

function done(summary, latency, requests)
  local statuses_all, lats, unanswered = {}, {}, 0
  local stop = now_us and now_us() or 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses") or {}) do statuses_all[k] = (statuses_all[k] or 0) + v end
    if RATE then
      for _, v in ipairs(t:get("lat") or {}) do lats[#lats + 1] = v end
      -- still unanswered at the end (threads stop up to 100 ms after the run, so only
      -- what was due GRACE before the end counts): in flight, or due and never sent
      local d, nd, iv = t:get("due"), t:get("next_due"), t:get("interval")
      if d and d < stop - GRACE then lats[#lats + 1] = stop - d; unanswered = unanswered + 1 end
      while nd and nd < stop - GRACE do
        lats[#lats + 1] = stop - nd; unanswered = unanswered + 1; nd = nd + iv
      end
    end
  end
  local pct = {}
  if RATE then
    table.sort(lats)
    local function at(p) return #lats > 0 and lats[math.max(1, math.ceil(p / 100 * #lats))] or 0 end
    for _, p in ipairs({50, 99, 99.9, 100}) do pct[p == 100 and "max" or tostring(p)] = at(p) end
  else
    for _, p in ipairs({50, 99, 99.9}) do pct[tostring(p)] = latency:percentile(p) end
    pct["max"] = latency.max
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"requests":%d,"duration_us":%d,"unanswered":%d,"latency_from":"%s",' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":%s,"statuses":%s}\\n',
    summary.requests, summary.duration, unanswered, RATE and "intended" or "sent",
    e.connect, e.read, e.write, e.status, e.timeout,
    json_object(pct, false), json_object(statuses_all, false)))
end
"""


def wrk_script(load: Load) -> str:
    """The Lua script of one wrk run (see the module docstring)."""
    kind = {"get": "get", "reserve": "reserve", "purchase": "reserve"}[load.mode]
    if load.mode == "get":
        request = _request_template(load, "GET", load.path, None)
    else:
        request = _request_template(load, "POST", f"/api/drops/{load.drop_id}/reserve",
                                    '{"quantity":1}')
    purchase = _request_template(load, "POST", f"/api/drops/{load.drop_id}/purchase", "{}")
    loop = f"open loop at {load.rate:g}/s" if load.rate else "closed loop"
    head = [
        f"-- generated by bench._load: {load.mode}, {load.connections} connections, {loop}",
        f"RUN, MODE, KIND = {lua_string(load.run_id)}, {lua_string(load.mode)}, "
        f"{lua_string(kind)}",
        f"RATE, CONNECTIONS = {load.rate or 'nil'}, {load.connections}",
        f"REQUEST = {lua_string(request)}",
        f"PURCHASE = {lua_string(purchase)}",
    ]
    parts = ["\n".join(head) + "\n", _CLOCK if load.rate else "local now_us = nil\n", _STATE]
    if load.mode != "get":
        parts.append(_REQUEST)
    elif load.rate:
        parts.append(_STATIC_PACED_REQUEST)
    if load.rate:
        parts.append(_DELAY)
    if load.wants_response:
        parts.append(_RESPONSE)
    parts.append(_DONE)
    return "\n".join(parts)


@dataclass
class WrkResult:
    """What one wrk run measured, from its ``BENCH-JSON`` line."""

    name: str
    requests: int
    seconds: float
    latency_ms: dict[str, float]
    statuses: dict[str, int]
    errors: dict[str, int]
    unanswered: int = 0
    latency_from: str = "sent"
    wrk_cpu_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def count(self, *prefixes: str) -> int:
        """Answers whose ``kind status [code]`` key starts with any of ``prefixes``."""
        return sum(v for k, v in self.statuses.items() if k.startswith(prefixes))

    @property
    def wrk_cores(self) -> float:
        """The generator's CPU use, in cores, over the run."""
        return self.wrk_cpu_s / self.seconds if self.seconds else 0.0

    def statuses_text(self) -> str:
        codes = dict(sorted(self.statuses.items(), key=lambda kv: -kv[1]))
        errors = {f"socket {k}": v for k, v in self.errors.items() if v and k != "status"}
        if not self.statuses and self.errors.get("status"):
            codes = {">=400": self.errors["status"]}
        text = " ".join(f"{k.replace(' ', ':')}={v}" for k, v in {**codes, **errors}.items())
        return text + (f" unanswered={self.unanswered}" if self.unanswered else "")


def parse_wrk(name: str, stdout: str) -> WrkResult:
    """The figures of a run from wrk's output (the line ``done()`` printed)."""
    for line in stdout.splitlines():
        if line.startswith("BENCH-JSON "):
            data = json.loads(line.removeprefix("BENCH-JSON "))
            break
    else:
        raise RuntimeError(f"wrk printed no BENCH-JSON line:\n{stdout[-2000:]}")
    return WrkResult(
        name=name, requests=int(data["requests"]), seconds=data["duration_us"] / 1e6,
        latency_ms={k: v / 1000 for k, v in data["latency_us"].items()},
        statuses={k: int(v) for k, v in data["statuses"].items()},
        errors={k: int(v) for k, v in data["errors"].items()},
        unanswered=int(data.get("unanswered", 0)), latency_from=data["latency_from"],
    )


def run_wrk(name: str, load: Load, *, wrk_bin: str = "wrk") -> WrkResult:
    """Run wrk for ``load.seconds`` (killed if it overstays by 30 s) and return its figures,
    with its own CPU time (from the rusage of the reaped child)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-") as script:
        script.write(wrk_script(load))
        script.flush()
        argv = [wrk_bin, "-t", str(load.threads), "-c", str(load.connections),
                "-d", f"{max(1, round(load.seconds))}s", "--timeout", "10s", "-s", script.name,
                f"http://127.0.0.1:{load.port}{load.path if load.mode == 'get' else '/'}"]
        cpu_before = children_cpu_s()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=load.seconds + 30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        cpu = children_cpu_s() - cpu_before
    if proc.returncode != 0 or "BENCH-JSON" not in out:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.strip()}\n{out[-1500:]}")
    result = parse_wrk(name, out)
    result.wrk_cpu_s = cpu
    if err.strip():  # a Lua error in response() etc. is only reported on stderr
        result.extra["stderr"] = err.strip()[:500]
    return result


def measured(name: str, load: Load, sampler: CpuSampler | None = None, *,
             drain_idle: dict[str, float] | None = None, wrk_bin: str = "wrk") -> WrkResult:
    """:func:`run_wrk`, with the CPU seconds every party of ``sampler`` spent meanwhile
    (``extra["cpu_s"]``); with ``drain_idle``, the work the load left queued is waited
    for and charged too (``extra["drain_s"]``)."""
    pace = host_pace_ms()
    before, busy, mine = sampler.sample() if sampler else {}, machine_busy_s(), own_cpu_s()
    result = run_wrk(name, load, wrk_bin=wrk_bin)
    result.extra["pace_ms"] = pace
    if sampler is not None:
        if drain_idle is not None:
            result.extra["drain_s"] = sampler.drain(drain_idle)
        result.extra["cpu_s"] = sampler.delta(before, sampler.sample())
    # what else ran on the machine meanwhile: other engineers' work disturbs the figures
    ours = sum(result.extra.get("cpu_s", {}).values()) + result.wrk_cpu_s + own_cpu_s() - mine
    result.extra["others_s"] = max(0.0, machine_busy_s() - busy - ours)
    return result


def cpu_line(result: WrkResult) -> str:
    """Each party's CPU use during the run, in cores (1.00 = one core all the time)."""
    seconds = result.seconds + result.extra.get("drain_s", 0.0)
    parts = [f"{name} {cpu / seconds:.2f}" for name, cpu in result.extra.get("cpu_s", {}).items()]
    others = result.extra.get("others_s", 0.0) / seconds
    return "  cpu (cores): " + ", ".join(
        [*parts, f"wrk {result.wrk_cores:.2f}", f"not ours {others:.2f}"]) + (
        f"; host pace {result.extra['pace_ms']:.0f} ms" if "pace_ms" in result.extra else "")


def fmt_ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def others_cores(r: WrkResult) -> float:
    """Cores the machine spent on work not ours during the run (other engineers')."""
    others: float = r.extra.get("others_s", 0.0)
    return others / (r.seconds + r.extra.get("drain_s", 0.0) or 1)


def result_row(r: WrkResult) -> str:
    """``name  answers/s  p50  p99  p99.9  wrk-cores  others-cores  statuses`` (ms)."""
    lat = r.latency_ms
    return (f"{r.name:<28} {r.per_s:>9,.0f} {fmt_ms(lat['50']):>7} {fmt_ms(lat['99']):>7} "
            f"{fmt_ms(lat['99.9']):>7} {r.wrk_cores:>5.2f} {others_cores(r):>6.2f}  "
            f"{r.statuses_text()}")


RESULT_HEADER = (f"{'phase':<28} {'per s':>9} {'p50':>7} {'p99':>7} {'p99.9':>7} "
                 f"{'wrk':>5} {'others':>6}  answers (kind:status:code=count)")
LEGEND = ("per s: answers a second; p50/p99/p99.9: latency in ms; wrk: the generator's CPU "
          "in cores; others: cores the machine spent meanwhile on work not this bench's "
          "(other engineers'; above ~0.2 the figures are disturbed)")
