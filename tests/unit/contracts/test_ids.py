"""The deterministic ids (``stampede_contracts.ids``) are ``uuid.uuid5`` in ``STAMPEDE_NS``,
bit for bit: computed cheaper, never different."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st
from stampede_contracts import STAMPEDE_NS, ids


@given(st.uuids(), st.integers(1, 2**40), st.text(min_size=1, max_size=80))
def test_ids_are_uuid5_in_the_stampede_namespace(some, seq, key):
    assert ids.command_id_for(some, key) == uuid.uuid5(STAMPEDE_NS, f"command:{some}:{key}")
    assert ids.event_id_for(some, seq) == uuid.uuid5(STAMPEDE_NS, f"event:{some}:{seq}")
    assert ids.reservation_id_for(some) == uuid.uuid5(STAMPEDE_NS, f"reservation:{some}")
    assert ids.purchase_id_for(some) == uuid.uuid5(STAMPEDE_NS, f"purchase:{some}")
    assert ids.event_id_text(some, seq) == str(uuid.uuid5(STAMPEDE_NS, f"event:{some}:{seq}"))
    made = ids.command_id_for(some, key)
    assert str(made) == str(uuid.uuid5(STAMPEDE_NS, f"command:{some}:{key}"))
    assert made.version == 5 and hash(made) == hash(uuid.UUID(str(made)))
    assert made == uuid.UUID(str(made)) and made.is_safe is uuid.SafeUUID.unknown
