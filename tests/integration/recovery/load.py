"""A steady load on the order path (``bench._steady``, shared with ``bench.recovery``) and
the checks of what it got: ``settle`` reads each 202's outcome until it is decided and
checks the drop's stock against what the buyers were told.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from aiokafka.partitioner import DefaultPartitioner
from stampede_contracts import Topics, encode_key

from bench._steady import Answer, Load, buyer, gateway_client

__all__ = ["Answer", "Load", "buyer", "gateway_client", "outcome", "owner_slot", "settle"]


def owner_slot(drop_id: str, slots: int) -> int:
    """The inventory slot that decides for ``drop_id``: its partition of the commands
    topic (Kafka's default partitioner, as every producer here), shared out by slot."""
    partitions = list(range(Topics.for_namespace().commands.partitions))
    return int(DefaultPartitioner()(encode_key(uuid.UUID(drop_id)), partitions, partitions)
               ) % slots


async def outcome(api: httpx.AsyncClient, a: Answer, timeout_s: float = 30) -> tuple[int, Any]:
    """What a request was answered, a 202 read at its outcome URL until decided."""
    if a.status != 202:
        return a.status, a.body
    async with asyncio.timeout(timeout_s):
        while True:
            r = await api.get(f"/api/requests/{a.key}", headers=a.who)
            if r.status_code == 200:
                return r.json()["response_status"], r.json()["response"]
            assert r.status_code == 202, r.text
            await asyncio.sleep(0.2)  # its Retry-After, shortened


async def settle(api: httpx.AsyncClient, drop_id: str, total: int,
                 answers: list[Answer]) -> list[tuple[Answer, dict[str, Any]]]:
    """Every request decided; the drop's stock adds up and holds exactly what buyers were
    told they hold (none lost, none more). Returns the holds with their reservation."""
    decided = await asyncio.gather(*(outcome(api, a) for a in answers))
    holds = [(a, body["reservation"]) for a, (status, body) in zip(answers, decided,
                                                                    strict=True)
             if status == 201]
    refused = {body.get("code") for status, body in decided if status != 201}
    assert refused <= {"OUT_OF_STOCK"}, refused
    async with asyncio.timeout(10):  # the view follows the events
        while True:
            r = await api.get(f"/api/drops/{drop_id}/status")
            assert r.status_code == 200, r.text
            status = r.json()
            assert min(status.values()) >= 0, status
            assert status["available"] + status["held"] + status["sold"] \
                == status["total_stock"] == total, status
            assert status["held"] <= len(holds), (status, len(holds))  # none beyond
            if status["held"] == len(holds):  # and none lost
                break
            await asyncio.sleep(0.1)
    assert len({h["id"] for _, h in holds}) == len(holds)
    return holds
