"""The waiting room's serving-counter model: the counter rises at the drop's rate while
the room advances and never passes the last number; places are numbers (fifo) or a
uniformly drawn permutation of the numbers taken before the start (lottery)."""

from __future__ import annotations

import uuid
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st
from stampede_gateway.domain.serving import Mode, RoomState, lottery_places, standing

DROP = uuid.uuid4()


def room(issued: int, serving: float = 0, at: float = 0.0, rate: float = 10.0,
         advancing: bool = True, **kw) -> RoomState:
    return RoomState(DROP, issued, serving, at, rate, advancing, **kw)


def test_the_counter_rises_at_the_rate_up_to_the_last_number():
    r = room(issued=25)
    assert [r.serving_now(t) for t in (0.0, 0.05, 0.1, 1.0, 2.0, 9.0)] == [0, 0, 1, 10, 20, 25]
    assert r.waiting(1.0) == 15 and r.waiting(9.0) == 0
    assert room(issued=25, advancing=False).serving_now(9.0) == 0  # paused: sold out, not live


def test_a_ticket_knows_its_place_its_turn_and_when_it_is_too_late():
    r = room(issued=30, serving=4.5, at=100.0)
    waiting = standing(r, 10, now=100.0, window_s=60)
    assert (waiting.position, waiting.admitted, waiting.eta_s, waiting.retry_after_s) == (
        6, False, 1, 1)
    assert standing(r, 30, now=100.0, window_s=60).eta_s == 3
    admitted = standing(r, 10, now=100.6, window_s=60)
    assert admitted.admitted and admitted.position == 0 and not admitted.expired
    late = standing(room(issued=1000, serving=700, at=0.0, rate=10.0), 10, 0.0, window_s=60)
    assert late.admitted and late.expired  # served 69 s ago (690 places at 10/s)


def test_a_lottery_has_no_places_before_its_draw():
    r = room(issued=5, advancing=False, mode=Mode.LOTTERY)
    s = standing(r, 3, now=0.0, window_s=60)
    assert s.position is None and not s.admitted and not r.drawn
    drawn = room(issued=8, mode=Mode.LOTTERY, lottery_size=5, lottery_seed=1234)
    places = [drawn.place(n) for n in range(1, 9)]
    assert sorted(places[:5]) == [1, 2, 3, 4, 5]  # the early ones drawn among themselves
    assert places[5:] == [6, 7, 8]  # later arrivals keep their order after them


@given(st.integers(min_value=0, max_value=500), st.floats(min_value=0, max_value=300),
       st.floats(min_value=0.1, max_value=5000), st.data())
def test_fifo_admits_in_the_order_of_arrival_and_never_takes_back(issued, serving, rate, data):
    r = room(issued=issued, serving=min(serving, issued), at=0.0, rate=rate)
    times = sorted(data.draw(st.lists(st.floats(min_value=0, max_value=100), min_size=2,
                                      max_size=6)))
    counters = [r.serving_now(t) for t in times]
    assert counters == sorted(counters) and counters[-1] <= issued
    for t in times:
        admitted = [n for n in range(1, issued + 1) if standing(r, n, t, 1e9).admitted]
        assert admitted == list(range(1, len(admitted) + 1))  # a prefix of the queue
        assert len(admitted) == r.serving_now(t)


def test_lottery_places_are_a_permutation():
    for seed, size in ((1, 1), (2, 10), (3, 1000)):
        assert sorted(lottery_places(seed, size)) == list(range(1, size + 1))
    assert lottery_places(7, 50) == lottery_places(7, 50)  # every process draws the same


def test_lottery_places_are_uniform():
    """Over 20,000 draws (seeds 0..19,999: fixed, so the check cannot flake), every number
    lands on every place as often as chance says: chi-square over the 10 x 10 table below
    the 0.1 % critical value of its 81 degrees of freedom (124.8)."""
    size, draws = 10, 20_000
    table = Counter((number, place) for seed in range(draws)
                    for number, place in enumerate(lottery_places(seed, size), start=1))
    expected = draws / size
    chi2 = sum((table[(n, p)] - expected) ** 2 / expected
               for n in range(1, size + 1) for p in range(1, size + 1))
    print(f"chi-square {chi2:.1f} over 81 degrees of freedom (seeds 0..{draws - 1})")
    assert chi2 < 124.8
