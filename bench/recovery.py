"""Recovery after ``kill -9`` (issue 10): the time from the kill of a process to the first
decision by its replacement, over ``--kills`` (20) kills of each service, as percentiles
(p50 / p90 / max). A figure, not a timed test (tests/integration/recovery asserts the
bounds).

``flock /tmp/stampede-bench.lock .venv/bin/python -m bench.recovery [--kills 20]
[--services inventory,orders] [--seed N]`` (``--services inventory,orders,gateway`` adds
the gateway: its replacement starts cold, so each of its kills takes half a minute)

The system runs as ``make up`` runs it (``bench._stack.start_stack``: the embedded broker
and a durable PostgreSQL, ``--gateway-workers`` (2) gateway processes on one port, one
inventory, orders, a notifier) and is supervised as ``make up`` supervises it
(``Stack.supervising``: dead processes looked for every 0.2 s, the inventory and orders
restarted from their warm spare). Each kill comes when the victim is deciding and its
warm spare is ready (the state between crashes), at a random moment (``--seed``) of a
steady load: a reserve every ``--every`` (0.1) s, each from a new buyer with its own key,
each on its own task. What counts as the replacement's first decision:

- ``inventory``: the first 201 to a reserve sent after the kill (only the new owner can
  have decided it);
- ``orders``: the first hold decided after the kill as seen in orders' read model
  (``GET /api/me/reservations`` of its buyer);
- ``gateway``: the killed process's replacement ready (``/readyz`` answered by its
  instance); the other gateway process answers the port's clients throughout, so the
  first 201 after the kill is printed too (a client whose connection died retries).

Bounded (``--kills`` 1..100), 127.0.0.1 only, stops by itself; every process it started
is stopped on any exit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from ._stack import code_version, exit_on_sigterm, start_stack
from ._steady import Answer, Load, gateway_client

SERVICES = ("inventory", "orders", "gateway")


async def in_orders(api: httpx.AsyncClient, a: Answer, timeout_s: float) -> float:
    """When orders' read model first shows the hold of ``a``."""
    hold = a.body["reservation"]["id"]
    async with asyncio.timeout(timeout_s):
        while True:
            r = await api.get("/api/me/reservations", headers=a.who)
            if r.status_code == 200 and any(i["id"] == hold for i in r.json()["items"]):
                return time.monotonic()
            await asyncio.sleep(0.05)


async def between_crashes(stack: Any, victim: Any) -> None:
    """The victim deciding, its warm spare (if its service has one) imported."""
    await asyncio.to_thread(victim.wait_ready, 60)
    async with asyncio.timeout(90):
        while victim.module in ("stampede_inventory", "stampede_orders") \
                and not stack.spare_ready(victim.module):
            await asyncio.sleep(0.1)


async def one_kill(stack: Any, api: httpx.AsyncClient, service: str, drop_id: str,
                   rng: random.Random, every_s: float) -> tuple[float, float | None]:
    """(kill -> the replacement's first decision, kill -> the first 201 on the port)."""
    victim = stack.processes(service)[0] if service != "orders" else stack.services["orders"]
    await between_crashes(stack, victim)
    load = Load(api, drop_id, every_s, retries=2).start()
    try:
        await load.first_success(0.0, 30)
        await asyncio.sleep(rng.uniform(0.1, 0.8))
        killed, old = time.monotonic(), victim.proc
        await asyncio.to_thread(victim.kill9)
        dead = time.monotonic()
        first = await load.first_success(dead, 60)
        if service == "inventory":
            return first.answered - killed, None
        if service == "orders":
            return await in_orders(api, first, 60) - killed, None
        while victim.proc is old:  # until the supervisor started the replacement
            await asyncio.sleep(0.02)
        await asyncio.to_thread(victim.wait_ready, 60)
        return time.monotonic() - killed, first.answered - killed
    finally:
        await load.stop()


def percentiles(times: list[float]) -> str:
    ordered = sorted(times)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return f"p50 {at(0.5):6.2f} s  p90 {at(0.9):6.2f} s  max {ordered[-1]:6.2f} s"


async def measure(stack: Any, args: argparse.Namespace) -> dict[str, list[tuple[float, Any]]]:
    rng = random.Random(args.seed)
    results: dict[str, list[tuple[float, Any]]] = {}
    async with gateway_client(stack.gateway_url) as api:
        r = await api.post("/api/auth/login", json={"username": "admin", "password": "admin"})
        boss = {"Authorization": f"Bearer {r.json()['access_token']}"}
        for service in args.services:
            r = await api.post("/api/drops", headers=boss, json={
                "name": f"recovery {service}", "price_cents": 100, "total_stock": 1_000_000,
                "reservation_ttl_seconds": 3600})
            r.raise_for_status()
            drop_id = r.json()["id"]
            results[service] = []
            for i in range(args.kills):
                took = await one_kill(stack, api, service, drop_id, rng, args.every)
                results[service].append(took)
                print(f"  {service} kill {i + 1:>2}: {took[0]:.2f} s"
                      + (f" (first 201 on the port {took[1]:.2f} s)" if took[1] is not None
                         else ""), flush=True)
    return results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="kills of each service")
    parser.add_argument("--services", default="inventory,orders",
                        help=f"of {','.join(SERVICES)}")
    parser.add_argument("--every", type=float, default=0.1, help="seconds between reserves")
    parser.add_argument("--gateway-workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    args.services = [s for s in args.services.split(",") if s]
    if not 1 <= args.kills <= 100 or not set(args.services) <= set(SERVICES) \
            or not 0.02 <= args.every <= 1:
        parser.error(f"--kills 1..100, --services of {','.join(SERVICES)}, --every 0.02..1")
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    return args


def main() -> None:
    args = parse_args()
    exit_on_sigterm()
    print(f"recovery: {args.kills} kill -9 of each of {', '.join(args.services)}; a reserve "
          f"every {args.every:g} s; {args.gateway_workers} gateway processes; seed {args.seed}",
          flush=True)
    print(f"code: {code_version()}; {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="stampede-bench-") as tmp:
        stack = start_stack(Path(tmp) / "stack", gateway_workers=args.gateway_workers,
                            notifier_workers=1)
        try:
            with stack.supervising():
                results = asyncio.run(measure(stack, args))
        finally:
            stack.stop()
    print("\nkill -9 -> first decision by the replacement "
          f"({args.kills} kills each, seed {args.seed}):")
    what = {"inventory": "first 201 after the kill",
            "orders": "first hold after the kill in the read model",
            "gateway": "the replacement process ready"}
    for service, took in results.items():
        print(f"  {service:<10} {percentiles([t for t, _ in took])}   ({what[service]})")
        port = [p for _, p in took if p is not None]
        if port:
            print(f"  {'':<10} {percentiles(port)}   (first 201 on the gateway's port: the "
                  "other process answers)")


if __name__ == "__main__":
    main()
