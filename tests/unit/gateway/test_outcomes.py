"""Replies and refusals as HTTP answers: one table of statuses and codes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest
from stampede_contracts import HoldStatus, PurchaseView, RejectionCode, Reply, ReservationView
from stampede_gateway.domain.outcomes import Operation, from_reply, refusal, rejection

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DROP, USER = uuid.uuid4(), uuid.uuid4()


def reply(ok=True, code=None, result=None) -> dict:
    """A reply as the gateway reads it: the contract's JSON, decoded without the model."""
    model = Reply(command_id=uuid.uuid4(), drop_id=DROP, reply_to="gw", ok=ok, code=code,
                  result=result, decided_at=NOW, seq=7)
    return dict(orjson.loads(model.model_dump_json()))


@pytest.mark.parametrize(("code", "status"), [
    (RejectionCode.DROP_NOT_FOUND, 404), (RejectionCode.RESERVATION_NOT_FOUND, 404),
    (RejectionCode.DROP_NOT_ACTIVE, 409), (RejectionCode.OUT_OF_STOCK, 409),
    (RejectionCode.ALREADY_RESERVED, 409), (RejectionCode.LIMIT_EXCEEDED, 409),
    (RejectionCode.NO_ACTIVE_RESERVATION, 409), (RejectionCode.RESERVATION_EXPIRED, 409),
    (RejectionCode.VALIDATION_ERROR, 422),
])
def test_rejections_are_problem_documents(code, status):
    response = from_reply(Operation.RESERVE, reply(ok=False, code=code))
    assert response.status == status
    assert response.body["code"] == code.value and response.body["status"] == status
    assert response.headers["Content-Type"] == "application/problem+json"


def test_buy_now_says_sold_out_and_refusals_are_prepared_once():
    body = rejection(Operation.ORDER, RejectionCode.OUT_OF_STOCK).body
    assert body["code"] == "SOLD_OUT"
    assert refusal(Operation.RESERVE, "OUT_OF_STOCK") is refusal(Operation.RESERVE,
                                                                 "OUT_OF_STOCK")
    assert refusal(Operation.RESERVE, "OUT_OF_STOCK").body["code"] == "OUT_OF_STOCK"


def test_successes_carry_the_api_bodies():
    hold = ReservationView(id=uuid.uuid4(), drop_id=DROP, user_id=USER, quantity=1,
                           status=HoldStatus.ACTIVE, expires_at=NOW)
    held = from_reply(Operation.RESERVE, reply(result=hold))
    assert held.status == 201
    assert held.body == {"reservation": {"id": str(hold.id), "drop_id": str(DROP),
                                         "quantity": 1, "status": "active",
                                         "expires_at": "2026-01-01T00:00:00Z"}}
    assert from_reply(Operation.CANCEL, reply(result=hold)).status == 200
    bought = PurchaseView(id=uuid.uuid4(), drop_id=DROP, reservation_id=hold.id, user_id=USER,
                          quantity=1, amount_cents=500, currency="EUR", created_at=NOW)
    purchase = from_reply(Operation.PURCHASE, reply(result=bought))
    assert purchase.status == 201 and purchase.body["purchase"]["amount_cents"] == 500
    assert purchase.body["purchase"]["status"] == "paid"
    order = from_reply(Operation.ORDER, reply(result=bought))
    assert order.status == 200 and order.body["status"] == "success"
    with pytest.raises(ValueError, match="unexpected reply"):
        from_reply(Operation.PURCHASE, reply(result=hold))
