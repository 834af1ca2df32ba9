"""Rooms: which clients listen to which drop (or to every drop), split by how the
fan-out reaches them.

- ``ready``: clients the fan-out writes to directly, all with the same bytes; keyed by
  the client's ``key`` (its socket's descriptor), so the fan-out hands the kernel a
  list of descriptors and does nothing per client in Python.
- ``held``: clients served one at a time: their socket is backed up (the write
  buffer holds data) or they are catching up after a resume.

A client is in every room it follows, in the same part of each.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar
from uuid import UUID


class Keyed(Hashable, Protocol):
    @property
    def key(self) -> int: ...


C = TypeVar("C", bound=Keyed)


class Room(Generic[C]):
    __slots__ = ("_keys", "_members", "held", "ready")

    def __init__(self) -> None:
        self.ready: dict[int, C] = {}
        self.held: set[C] = set()
        self._keys: list[int] | None = None
        self._members: list[C] | None = None

    def keys(self) -> list[int]:
        """The ready clients' keys, as a list kept between changes."""
        if self._keys is None:
            self._keys = list(self.ready)
        return self._keys

    def members(self) -> list[C]:
        """The ready clients, in the order of ``keys``, kept the same way."""
        if self._members is None:
            self._members = list(self.ready.values())
        return self._members

    def add(self, client: C, held: bool) -> None:
        if held:
            self.held.add(client)
        else:
            self.ready[client.key] = client
            self._keys = self._members = None

    def remove(self, client: C) -> None:
        if self.ready.get(client.key) is client:
            del self.ready[client.key]
            self._keys = self._members = None
        self.held.discard(client)

    def __len__(self) -> int:
        return len(self.ready) + len(self.held)


class Rooms(Generic[C]):
    def __init__(self) -> None:
        self._by_drop: dict[UUID, Room[C]] = {}
        self.everything: Room[C] = Room()
        self._subscriptions: dict[C, frozenset[UUID] | None] = {}
        self._held: set[C] = set()

    def join(self, client: C, drops: frozenset[UUID] | None, *, held: bool) -> None:
        """``drops=None``: every drop, including drops created later."""
        self.leave(client)
        self._subscriptions[client] = drops
        if held:
            self._held.add(client)
        for room in self._rooms_of(drops, create=True):
            room.add(client, held)

    def leave(self, client: C) -> None:
        if client not in self._subscriptions:
            return
        drops = self._subscriptions.pop(client)
        self._held.discard(client)
        for room in self._rooms_of(drops, create=False):
            room.remove(client)
        if drops is not None:
            for drop_id in drops:
                if not self._by_drop.get(drop_id, True):
                    del self._by_drop[drop_id]

    def hold(self, client: C) -> None:
        """Serve ``client`` one at a time from now on."""
        self._move(client, held=True)

    def release(self, client: C) -> None:
        """Back to the shared fan-out."""
        self._move(client, held=False)

    def _move(self, client: C, held: bool) -> None:
        if client not in self._subscriptions or (client in self._held) == held:
            return
        (self._held.add if held else self._held.discard)(client)
        for room in self._rooms_of(self._subscriptions[client], create=False):
            room.remove(client)
            room.add(client, held)

    def _rooms_of(self, drops: frozenset[UUID] | None, create: bool) -> list[Room[C]]:
        if drops is None:
            return [self.everything]
        if create:
            return [self._by_drop.setdefault(d, Room()) for d in drops]
        return [room for d in drops if (room := self._by_drop.get(d)) is not None]

    def targets(self, drop_id: UUID) -> tuple[Room[C], ...]:
        """The rooms a message of ``drop_id`` goes to."""
        room = self._by_drop.get(drop_id)
        return (room, self.everything) if room is not None else (self.everything,)

    def is_held(self, client: C) -> bool:
        return client in self._held

    @property
    def held_count(self) -> int:
        return len(self._held)

    def clients(self) -> list[C]:
        return list(self._subscriptions)

    def subscription(self, client: C) -> frozenset[UUID] | None:
        return self._subscriptions.get(client)

    def __len__(self) -> int:
        return len(self._subscriptions)

    def __contains__(self, client: object) -> bool:
        return client in self._subscriptions
