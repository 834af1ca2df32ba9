"""Replies and refusals as HTTP answers: one table of statuses and codes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from stampede_contracts import HoldStatus, PurchaseView, RejectionCode, Reply, ReservationView
from stampede_gateway.domain.outcomes import Operation, from_reply, rejection

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DROP, USER = uuid.uuid4(), uuid.uuid4()


def reply(ok=True, code=None, result=None) -> Reply:
    return Reply(command_id=uuid.uuid4(), drop_id=DROP, reply_to="gw", ok=ok, code=code,
                 result=result, decided_at=NOW)


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
    assert response.body["code"] == code.value
    assert response.body["status"] == status
    assert response.body["type"].endswith(code.value.lower().replace("_", "-"))
    assert response.headers["Content-Type"] == "application/problem+json"


def test_buy_now_calls_out_of_stock_sold_out():
    assert rejection(Operation.ORDER, RejectionCode.OUT_OF_STOCK).body["code"] == "SOLD_OUT"
    assert rejection(Operation.RESERVE, RejectionCode.OUT_OF_STOCK).body["code"] == "OUT_OF_STOCK"


def test_successes():
    hold = ReservationView(id=uuid.uuid4(), drop_id=DROP, user_id=USER, quantity=1,
                           status=HoldStatus.ACTIVE, expires_at=NOW)
    sale = PurchaseView(id=uuid.uuid4(), drop_id=DROP, reservation_id=hold.id, user_id=USER,
                        quantity=1, amount_cents=100, currency="USD", created_at=NOW)
    reserved = from_reply(Operation.RESERVE, reply(result=hold))
    assert reserved.status == 201 and reserved.body["reservation"]["status"] == "active"
    assert "user_id" not in reserved.body["reservation"]
    bought = from_reply(Operation.PURCHASE, reply(result=sale))
    assert bought.status == 201 and bought.body["purchase"]["status"] == "paid"
    ordered = from_reply(Operation.ORDER, reply(result=sale))
    assert ordered.status == 200 and ordered.body["status"] == "success"
    cancelled = from_reply(Operation.CANCEL, reply(result=hold))
    assert cancelled.status == 200


def test_an_unexpected_result_is_an_error_not_a_false_yes():
    with pytest.raises(ValueError):
        from_reply(Operation.PURCHASE, reply(result=None))
