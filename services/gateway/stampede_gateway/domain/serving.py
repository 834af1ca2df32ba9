"""A drop's waiting room on the serving-counter model (as in AWS Virtual Waiting Room).

Buyers who arrive faster than the drop's ``admit_per_s`` take the next number of the
drop's queue (a signed ticket carries it). The room's serving counter rises at
``admit_per_s`` while the room *advances* (the drop is live and has stock to hold) and
never passes the last number issued; a ticket whose place the counter has reached is
admitted, and ``position = place - serving``. Every gateway process computes the same
answer from the same shared row (``RoomState``) and the clock.

Places: in ``fifo`` mode a ticket's place is its number. In ``lottery`` mode the numbers
taken before the drop starts (``1..lottery_size``) are given their places by a random
permutation drawn when it starts (``lottery_seed``, chosen once, stored with the room),
so arriving a second early with a script wins nothing; later numbers queue behind them in
order. Until the draw, a lottery ticket has no place yet.
"""

from __future__ import annotations

import math
import random
from array import array
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from uuid import UUID


class Mode(StrEnum):
    FIFO = "fifo"
    LOTTERY = "lottery"


@dataclass(frozen=True, slots=True)
class RoomState:
    """One drop's room as stored (shared by every gateway process)."""

    drop_id: UUID
    issued: int  # numbers handed out (the last one's number)
    serving: float  # the counter at ``serving_at``
    serving_at: float  # unix seconds
    rate: float  # admissions per second while advancing
    advancing: bool  # the drop is live and has stock: the counter rises
    mode: Mode = Mode.FIFO
    lottery_size: int | None = None  # numbers drawn at the start (None: not drawn yet)
    lottery_seed: int | None = None

    def serving_now(self, now: float) -> int:
        """The counter now: every place up to it is admitted."""
        serving = self.serving
        if self.advancing and now > self.serving_at:
            serving = min(float(self.issued), serving + self.rate * (now - self.serving_at))
        return math.floor(serving)

    def waiting(self, now: float) -> int:
        return max(0, self.issued - self.serving_now(now))

    @property
    def drawn(self) -> bool:
        return self.mode is Mode.FIFO or self.lottery_size is not None

    def place(self, number: int) -> int | None:
        """The place of a ticket's number (None: a lottery not drawn yet)."""
        if self.mode is Mode.FIFO:
            return number
        if self.lottery_size is None or self.lottery_seed is None:
            return None
        if number <= self.lottery_size:
            return lottery_places(self.lottery_seed, self.lottery_size)[number - 1]
        return number


@dataclass(frozen=True, slots=True)
class Standing:
    """Where one ticket stands now."""

    position: int | None  # places ahead, counting its own (1 = next); 0 once admitted
    admitted: bool
    expired: bool  # admitted longer ago than the admission window: too late
    eta_s: int
    retry_after_s: int


def standing(room: RoomState, number: int, now: float, window_s: float) -> Standing:
    place = room.place(number)
    if place is None:  # the draw has not happened: the drop has not started
        return Standing(None, False, False, 0, 1)
    serving = room.serving_now(now)
    if place <= serving:
        admitted_ago = (serving - place) / room.rate if room.rate > 0 else 0.0
        return Standing(0, True, admitted_ago > window_s, 0, 0)
    position = place - serving
    eta = math.ceil(position / room.rate) if room.rate > 0 else 0
    return Standing(position, False, False, eta, min(5, max(1, eta)))


@lru_cache(maxsize=8)
def lottery_places(seed: int, size: int) -> array[int]:
    """A uniformly random permutation of ``1..size``: ``places[number - 1]`` is the place
    of that number. Deterministic in ``seed``, so every process draws the same."""
    places = array("l", range(1, size + 1))
    random.Random(seed).shuffle(places)
    return places
