"""Group membership (issue 10): slots from stable instance ids, and the settings that
choose a membership, failing fast with a clear line when they do not fit."""

from __future__ import annotations

import pytest
from stampede_runtime.membership import Membership, slot_of
from stampede_runtime.settings import ServiceSettings, load_settings


@pytest.mark.parametrize(("instance", "slot"), [
    ("inventory-0", 0), ("inventory-3", 3), ("inventory-12", 12), ("orders", 0),
    (None, 0), ("stampede-inventory-2", 2),
])
def test_a_slot_is_the_trailing_number_of_the_instance_id(instance, slot) -> None:
    assert slot_of(instance) == slot


def test_slots_share_every_partition_once() -> None:
    slots = [Membership(mode="slots", instance_id=f"inventory-{i}", slots=3) for i in range(3)]
    owners = {p: [i for i, m in enumerate(slots) if m.owns(p)] for p in range(8)}
    assert owners == {p: [p % 3] for p in range(8)}


def test_memberships_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValueError, match="slot 2"):
        Membership(mode="slots", instance_id="inventory-2", slots=2)
    with pytest.raises(ValueError, match="stable instance id"):
        Membership(mode="static", instance_id=None)


def test_settings_build_the_membership(monkeypatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("INSTANCE_ID", "inventory-1")
    monkeypatch.setenv("KAFKA_GROUP_MEMBERSHIP", "slots")
    monkeypatch.setenv("KAFKA_GROUP_SLOTS", "2")
    monkeypatch.setenv("SESSION_TIMEOUT_MS", "9000")  # the inventory's older name
    m = ServiceSettings().membership  # type: ignore[call-arg]
    assert (m.mode, m.instance_id, m.slots, m.session_timeout_ms) == (
        "slots", "inventory-1", 2, 9000)


def test_a_static_member_may_take_the_hosts_name(monkeypatch) -> None:
    import socket

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("INSTANCE_ID", "inventory-{hostname}")
    monkeypatch.setenv("KAFKA_GROUP_MEMBERSHIP", "static")
    m = ServiceSettings().membership  # type: ignore[call-arg]
    assert m.instance_id == f"inventory-{socket.gethostname()}"


def test_a_slot_beyond_the_slots_stops_the_process_with_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("INSTANCE_ID", "inventory-2")
    monkeypatch.setenv("KAFKA_GROUP_MEMBERSHIP", "slots")
    monkeypatch.setenv("KAFKA_GROUP_SLOTS", "2")
    with pytest.raises(SystemExit) as exited:
        load_settings(ServiceSettings)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "INSTANCE_ID 'inventory-2' names slot 2" in err and "KAFKA_GROUP_SLOTS" in err
