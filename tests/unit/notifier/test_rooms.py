"""Rooms: who hears which drop, and which of them the shared write reaches directly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from stampede_notifier.domain.rooms import Rooms

A, B = uuid.uuid4(), uuid.uuid4()


@dataclass(frozen=True)
class Client:
    key: int


def members(rooms: Rooms[Client], drop: uuid.UUID) -> tuple[list[int], list[int]]:
    """(ready keys, held keys) over every room a message of ``drop`` goes to."""
    ready, held = [], []
    for room in rooms.targets(drop):
        ready += room.keys()
        held += [c.key for c in room.held]
    return sorted(ready), sorted(held)


def test_rooms_route_by_drop_and_everything():
    rooms: Rooms[Client] = Rooms()
    a_only, both, everything = Client(1), Client(2), Client(3)
    rooms.join(a_only, frozenset({A}), held=False)
    rooms.join(both, frozenset({A, B}), held=False)
    rooms.join(everything, None, held=False)
    assert members(rooms, A) == ([1, 2, 3], [])
    assert members(rooms, B) == ([2, 3], [])
    assert members(rooms, uuid.uuid4()) == ([3], [])
    rooms.leave(both)
    rooms.leave(everything)
    rooms.leave(Client(99))  # never joined
    assert members(rooms, B) == ([], [])
    assert len(rooms) == 1 and a_only in rooms


def test_hold_and_release_move_a_client_in_every_room_it_follows():
    rooms: Rooms[Client] = Rooms()
    one, two = Client(1), Client(2)
    rooms.join(one, frozenset({A, B}), held=False)
    rooms.join(two, frozenset({A}), held=True)
    assert members(rooms, A) == ([1], [2])
    rooms.hold(one)
    assert members(rooms, A) == ([], [1, 2]) and members(rooms, B) == ([], [1])
    assert rooms.held_count == 2 and rooms.is_held(one)
    rooms.release(one)
    rooms.release(two)
    assert members(rooms, A) == ([1, 2], []) and members(rooms, B) == ([1], [])
    assert rooms.held_count == 0
    rooms.hold(Client(7))  # not a member: nothing happens
    assert rooms.held_count == 0


def test_keys_list_is_kept_until_the_room_changes():
    rooms: Rooms[Client] = Rooms()
    rooms.join(Client(1), frozenset({A}), held=False)
    [room] = rooms.targets(A)[:1]
    first = room.keys()
    assert room.keys() is first  # no copy per fan-out
    rooms.join(Client(2), frozenset({A}), held=False)
    assert room.keys() == [1, 2]
