"""Group commit of idempotency claims, against a fake pool: concurrent claims share one
statement, a key twice in one batch is new once, a failed write fails its batch only."""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest
from stampede_gateway.adapters.group_commit import Claim, GroupCommit


class FakeConn:
    def __init__(self, pool: FakePool) -> None:
        self.pool = pool

    async def execute(self, query: str, params: tuple[str]) -> FakeConn:
        await asyncio.sleep(0.01)  # a round trip
        self.pool.statements.append(json.loads(params[0]))
        if self.pool.fail:
            raise RuntimeError("database down")
        sent = [(uuid.UUID(r["u"]), r["k"]) for r in json.loads(params[0])]
        if any(k == "bad" for _, k in sent):
            raise psycopg.DataError("bad row")
        self.rows = [r for r in sent if r not in self.pool.table]
        self.pool.table.update(self.rows)
        return self

    async def fetchall(self) -> list[tuple[Any, str]]:
        return self.rows


class FakePool:
    def __init__(self) -> None:
        self.statements: list[list[dict[str, Any]]] = []
        self.table: set[tuple[Any, str]] = set()
        self.fail = False

    @asynccontextmanager
    async def connection(self):  # type: ignore[no-untyped-def]
        yield FakeConn(self)


def claim(user: uuid.UUID, key: str) -> Claim:
    return Claim(user, key, "fp", "order", status=409, body="{}", headers="{}")


def test_concurrent_claims_share_statements_and_a_repeated_key_is_new_once():
    async def scenario() -> tuple[list[bool], FakePool]:
        pool = FakePool()
        group = GroupCommit(pool, max_flushes=1)  # type: ignore[arg-type]
        u = uuid.uuid4()
        pool.table.add((u, "known"))
        claims = [claim(u, f"k{i}") for i in range(50)]
        claims += [claim(u, "k7"), claim(u, "known")]
        results = await asyncio.gather(*(group.claim(c) for c in claims))
        return list(results), pool

    results, pool = asyncio.run(scenario())
    assert results[:50] == [True] * 50
    assert results[50:] == [False, False]  # k7 a second time; a key already stored
    assert len(pool.statements) == 1  # all were waiting for the same flush
    assert len(pool.statements[0]) == 51  # the repeated key is sent once


def test_claims_arriving_during_a_write_go_in_the_next_batch():
    async def scenario() -> FakePool:
        pool = FakePool()
        group = GroupCommit(pool, max_flushes=1)  # type: ignore[arg-type]
        first = asyncio.ensure_future(group.claim(claim(uuid.uuid4(), "a")))
        await asyncio.sleep(0.002)  # the first write is in flight
        later = [group.claim(claim(uuid.uuid4(), f"b{i}")) for i in range(10)]
        assert all(await asyncio.gather(first, *later))
        return pool

    pool = asyncio.run(scenario())
    assert [len(s) for s in pool.statements] == [1, 10]


def test_a_failed_write_fails_its_claims_and_the_next_batch_still_goes():
    async def scenario() -> None:
        pool = FakePool()
        group = GroupCommit(pool, max_flushes=1)  # type: ignore[arg-type]
        pool.fail = True
        with pytest.raises(RuntimeError, match="database down"):
            await group.claim(claim(uuid.uuid4(), "a"))
        pool.fail = False
        assert await group.claim(claim(uuid.uuid4(), "b"))
        await group.close()

    asyncio.run(scenario())


def test_a_bad_row_fails_alone():
    async def scenario() -> list[bool | BaseException]:
        group = GroupCommit(FakePool(), max_flushes=1)  # type: ignore[arg-type]
        u = uuid.uuid4()
        return list(await asyncio.gather(
            *(group.claim(claim(u, k)) for k in ("a", "bad", "b")), return_exceptions=True))

    a, bad, b = asyncio.run(scenario())
    assert a is True and b is True and isinstance(bad, psycopg.DataError)


def test_rows_are_sent_as_one_json_array():
    from datetime import UTC, datetime

    from stampede_gateway.adapters.group_commit import rows_json

    u, cid = uuid.uuid4(), uuid.uuid4()
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rows = json.loads(rows_json([
        Claim(u, 'k"1', "fp", "reserve", command_id=cid, command='{"a": [1]}', lease_until=at),
        claim(u, "k2"),
    ]))
    assert rows[0] == {"u": str(u), "k": 'k"1', "f": "fp", "o": "reserve", "c": str(cid),
                       "cmd": {"a": [1]}, "l": at.isoformat(), "s": None, "b": None, "h": None}
    assert rows[1]["s"] == 409 and rows[1]["b"] == {} and rows[1]["c"] is None
