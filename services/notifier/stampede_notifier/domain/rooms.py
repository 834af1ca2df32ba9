"""Rooms: which clients listen to which drop (or to every drop)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from itertools import chain
from typing import Generic, TypeVar
from uuid import UUID

C = TypeVar("C", bound=Hashable)


class Rooms(Generic[C]):
    def __init__(self) -> None:
        self._by_drop: dict[UUID, set[C]] = {}
        self._everything: set[C] = set()
        self._subscriptions: dict[C, frozenset[UUID] | None] = {}

    def join(self, client: C, drops: frozenset[UUID] | None) -> None:
        """``drops=None``: every drop, including drops created later."""
        self.leave(client)
        self._subscriptions[client] = drops
        if drops is None:
            self._everything.add(client)
            return
        for drop_id in drops:
            self._by_drop.setdefault(drop_id, set()).add(client)

    def leave(self, client: C) -> None:
        drops = self._subscriptions.pop(client, ())
        if drops is None:
            self._everything.discard(client)
            return
        for drop_id in drops:
            room = self._by_drop.get(drop_id)
            if room is not None:
                room.discard(client)
                if not room:
                    del self._by_drop[drop_id]

    def members(self, drop_id: UUID) -> Iterator[C]:
        """A snapshot (safe against joins and leaves while iterating)."""
        room = self._by_drop.get(drop_id, ())
        return iter(list(chain(room, self._everything)))

    def clients(self) -> list[C]:
        return list(self._subscriptions)

    def subscription(self, client: C) -> frozenset[UUID] | None:
        return self._subscriptions.get(client)

    def __len__(self) -> int:
        return len(self._subscriptions)

    def __contains__(self, client: object) -> bool:
        return client in self._subscriptions
