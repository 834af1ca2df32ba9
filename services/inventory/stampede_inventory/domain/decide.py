"""The inventory's decisions: ``decide(state, command, now, command_id) -> Decision``.

Deterministic and free of I/O: no clock (``now`` is given; ``ExpireHolds`` uses its
own ``as_of``), no randomness (ids derive from the command id). It updates the
``DropState`` it is given (see ``state``) and returns it with the events the command
caused, each with the drop's next ``seq``, and the verdict the sender is answered
with. A rejection changes nothing. Every decision that changes stock ends with a
``StockChanged`` carrying the four numbers after it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

from stampede_contracts import (
    BuyNow,
    CancelHold,
    Command,
    ConfirmPurchase,
    CreateDrop,
    DeleteDrop,
    DropCreated,
    DropDeleted,
    DropStatus,
    DropUpdated,
    DropView,
    Event,
    EventEnvelope,
    ExpireHolds,
    HoldCancelled,
    HoldExpired,
    HoldStatus,
    PurchaseConfirmed,
    PurchaseView,
    RejectionCode,
    ReplyResult,
    ReservationRejected,
    ReservationView,
    ReserveStock,
    RestockDrop,
    StockChanged,
    StockReserved,
    UpdateDrop,
)
from stampede_contracts.ids import event_id_for, purchase_id_for, reservation_id_for

from .state import DropState, Hold
from .unchecked import maker, utc

# the frequent models, built without validation: see ``unchecked``
_StockReserved = maker(StockReserved)
_ReservationRejected = maker(ReservationRejected)
_HoldExpired = maker(HoldExpired)
_HoldCancelled = maker(HoldCancelled)
_PurchaseConfirmed = maker(PurchaseConfirmed)
_StockChanged = maker(StockChanged)
_ReservationView = maker(ReservationView)
_PurchaseView = maker(PurchaseView)


class Verdict(NamedTuple):
    """What the sender of the command is told: ok with a result, or a rejection code.

    (NamedTuples, not frozen dataclasses, for the values made per decision: a frozen
    dataclass's ``__init__`` was a tenth of a decision's cost.)"""

    ok: bool
    code: RejectionCode | None = None
    result: ReplyResult | None = None

    @property
    def outcome(self) -> str:
        return "ok" if self.ok else str(self.code)


OK = Verdict(ok=True)


class Numbered(NamedTuple):
    """An event with its per-drop ``seq``; its id is ``event_id_for(drop_id, seq)``."""

    seq: int
    event: Event


class Decision(NamedTuple):
    """The drop's state after the command (``None``: no such drop), events and verdict.

    Events are kept as (seq, event); ``envelopes()`` wraps them for the wire. Deriving
    the ids there, not here, keeps hashing off the hot path of a decision.
    """

    state: DropState | None
    events: tuple[Numbered, ...]
    verdict: Verdict
    at: datetime | None = None
    cause: UUID | None = None

    def envelopes(self) -> list[EventEnvelope]:
        if not self.events or self.state is None or self.at is None:
            return []
        drop_id = self.state.drop_id
        return [
            EventEnvelope(
                event_id=event_id_for(drop_id, n.seq), drop_id=drop_id, seq=n.seq,
                occurred_at=self.at, causation_id=self.cause, event=n.event,
            )
            for n in self.events
        ]


def _reject(state: DropState | None, code: RejectionCode) -> Decision:
    return Decision(state, (), Verdict(ok=False, code=code))


class _Emitter:
    """Numbers a decision's events with the drop's next seqs."""

    def __init__(self, state: DropState, now: datetime, cause: UUID) -> None:
        self.state, self.now, self.cause = state, now, cause
        self.events: list[Numbered] = []

    def emit(self, event: Event) -> None:
        self.state.seq += 1
        self.events.append(Numbered(self.state.seq, event))

    def done(self, verdict: Verdict, *, stock: bool = True) -> Decision:
        """Close the decision; ``stock``: it changed the stock, so a StockChanged follows."""
        if stock:
            self.emit(_StockChanged(stock=self.state.stock()))
        return Decision(self.state, tuple(self.events), verdict, self.now, self.cause)


def _drop_view(state: DropState) -> DropView:
    return DropView(drop=state.spec, stock=state.stock())


def _live(state: DropState | None) -> DropState | None:
    return None if state is None or state.deleted else state


# -- drops -------------------------------------------------------------------------------

def _create(state: DropState | None, cmd: CreateDrop, now: datetime, cid: UUID) -> Decision:
    if _live(state) is not None:
        return _reject(state, RejectionCode.DROP_EXISTS)
    # a re-created drop continues the seq of the deleted one: event ids are never reused
    new = DropState(spec=cmd.drop, seq=state.seq if state is not None else 0)
    out = _Emitter(new, now, cid)
    out.emit(DropCreated(drop=new.spec, stock=new.stock()))
    return out.done(Verdict(ok=True, result=_drop_view(new)))


def _update(state: DropState | None, cmd: UpdateDrop, now: datetime, cid: UUID) -> Decision:
    live = _live(state)
    if live is None:
        return _reject(state, RejectionCode.DROP_NOT_FOUND)
    # stock is changed by RestockDrop only: the total of the update is ignored
    live.spec = cmd.drop.model_copy(update={"total_stock": live.total_stock})
    out = _Emitter(live, now, cid)
    out.emit(DropUpdated(drop=live.spec, stock=live.stock()))
    return out.done(Verdict(ok=True, result=_drop_view(live)), stock=False)


def _restock(state: DropState | None, cmd: RestockDrop, now: datetime, cid: UUID) -> Decision:
    live = _live(state)
    if live is None:
        return _reject(state, RejectionCode.DROP_NOT_FOUND)
    if cmd.total_stock < live.held + live.sold:
        return _reject(state, RejectionCode.INVALID_STOCK)
    live.spec = live.spec.model_copy(update={"total_stock": cmd.total_stock})
    out = _Emitter(live, now, cid)
    out.emit(DropUpdated(drop=live.spec, stock=live.stock()))
    return out.done(Verdict(ok=True, result=_drop_view(live)))


def _delete(state: DropState | None, cmd: DeleteDrop, now: datetime, cid: UUID) -> Decision:
    live = _live(state)
    if live is None:
        return _reject(state, RejectionCode.DROP_NOT_FOUND)
    if live.held or live.sold or live.holds:
        return _reject(state, RejectionCode.DROP_NOT_EMPTY)
    live.deleted = True
    live.counts.clear()
    live.expired.clear()
    out = _Emitter(live, now, cid)
    out.emit(DropDeleted(drop_id=live.drop_id))
    return out.done(OK, stock=False)


# -- holds -------------------------------------------------------------------------------

def _admit(live: DropState, user_id: UUID, quantity: int, now: datetime) -> RejectionCode | None:
    """Why ``user_id`` may not take ``quantity`` more units now (None: they may)."""
    if live.spec.status_at(now) is not DropStatus.LIVE:
        return RejectionCode.DROP_NOT_ACTIVE
    if user_id in live.hold_of_user:
        return RejectionCode.ALREADY_RESERVED
    if live.counts.get(user_id, 0) + quantity > live.spec.per_user_limit:
        return RejectionCode.LIMIT_EXCEEDED
    if live.available < quantity:
        return RejectionCode.OUT_OF_STOCK
    return None


def _rejected_reservation(
    live: DropState, user_id: UUID, quantity: int, code: RejectionCode, now: datetime, cid: UUID
) -> Decision:
    out = _Emitter(live, now, cid)
    out.emit(_ReservationRejected(user_id=user_id, code=code, quantity=quantity))
    return out.done(Verdict(ok=False, code=code), stock=False)


def _place(live: DropState, hold: Hold) -> None:
    live.held += hold.quantity
    live.holds[hold.reservation_id] = hold
    live.hold_of_user[hold.user_id] = hold.reservation_id
    live.counts[hold.user_id] = live.counts.get(hold.user_id, 0) + hold.quantity
    live.expired.pop(hold.user_id, None)


def _reserve(state: DropState | None, cmd: ReserveStock, now: datetime, cid: UUID) -> Decision:
    live = _live(state)
    if live is None:
        return _reject(state, RejectionCode.DROP_NOT_FOUND)
    code = _admit(live, cmd.user_id, cmd.quantity, now)
    if code is not None:
        return _rejected_reservation(live, cmd.user_id, cmd.quantity, code, now, cid)
    hold = Hold(
        reservation_id=reservation_id_for(cid), drop_id=live.drop_id, user_id=cmd.user_id,
        username=cmd.username, quantity=cmd.quantity,
        expires_at=now + timedelta(seconds=live.spec.reservation_ttl_seconds),
    )
    _place(live, hold)
    out = _Emitter(live, now, cid)
    out.emit(_StockReserved(
        reservation_id=hold.reservation_id, user_id=hold.user_id, username=hold.username,
        quantity=hold.quantity, expires_at=hold.expires_at,
    ))
    return out.done(Verdict(ok=True, result=_reservation_view(hold, HoldStatus.ACTIVE)))


def _reservation_view(hold: Hold, status: HoldStatus) -> ReservationView:
    return _ReservationView(
        id=hold.reservation_id, drop_id=hold.drop_id, user_id=hold.user_id,
        quantity=hold.quantity, status=status, expires_at=utc(hold.expires_at),
    )


def _take_hold(live: DropState, hold: Hold) -> None:
    del live.holds[hold.reservation_id]
    live.hold_of_user.pop(hold.user_id, None)
    live.held -= hold.quantity


def _release(live: DropState, hold: Hold, *, expired: bool) -> None:
    """The hold ends without a sale: its units return to the stock and the user's count."""
    _take_hold(live, hold)
    left = live.counts.get(hold.user_id, 0) - hold.quantity
    if left > 0:
        live.counts[hold.user_id] = left
    else:
        live.counts.pop(hold.user_id, None)
    if expired:
        live.expired[hold.user_id] = hold.reservation_id


def _cancel(state: DropState | None, cmd: CancelHold, now: datetime, cid: UUID) -> Decision:
    live = _live(state)
    if live is None:
        return _reject(state, RejectionCode.DROP_NOT_FOUND)
    hold = live.holds.get(cmd.reservation_id)
    if hold is None or hold.user_id != cmd.user_id:  # someone else's hold is not found
        if live.expired.get(cmd.user_id) == cmd.reservation_id:
            return _reject(state, RejectionCode.RESERVATION_EXPIRED)
        return _reject(state, RejectionCode.RESERVATION_NOT_FOUND)
    _release(live, hold, expired=False)
    out = _Emitter(live, now, cid)
    out.emit(_HoldCancelled(
        reservation_id=hold.reservation_id, user_id=hold.user_id, quantity=hold.quantity
    ))
    return out.done(Verdict(ok=True, result=_reservation_view(hold, HoldStatus.CANCELLED)))


def _expire(state: DropState | None, cmd: ExpireHolds, now: datetime, cid: UUID) -> Decision:
    live = _live(state)
    if live is None:
        return _reject(state, RejectionCode.DROP_NOT_FOUND)
    # decided with the command's as_of, not the clock: a replay decides the same
    due = [h for h in live.holds.values() if h.expires_at <= cmd.as_of]
    if not due:
        return Decision(state, (), OK)
    out = _Emitter(live, now, cid)
    for hold in due:
        _release(live, hold, expired=True)
        out.emit(_HoldExpired(
            reservation_id=hold.reservation_id, user_id=hold.user_id, quantity=hold.quantity
        ))
    return out.done(OK)


# -- purchases ---------------------------------------------------------------------------

def _purchase(live: DropState, hold: Hold, username: str, out: _Emitter) -> PurchaseView:
    """Turn ``hold`` into a sale: held -> sold; the user's count stays (it counts both)."""
    _take_hold(live, hold)
    live.sold += hold.quantity
    view = _PurchaseView(
        id=purchase_id_for(hold.reservation_id), drop_id=hold.drop_id,
        reservation_id=hold.reservation_id, user_id=hold.user_id, quantity=hold.quantity,
        amount_cents=live.spec.price_cents * hold.quantity, currency=live.spec.currency,
        created_at=out.now,
    )
    out.emit(_PurchaseConfirmed(
        purchase_id=view.id, reservation_id=hold.reservation_id, user_id=hold.user_id,
        username=username, quantity=hold.quantity, amount_cents=view.amount_cents,
        currency=view.currency,
    ))
    return view


def _find_hold(live: DropState, cmd: ConfirmPurchase) -> Hold | None:
    rid = cmd.reservation_id or live.hold_of_user.get(cmd.user_id)
    hold = live.holds.get(rid) if rid is not None else None
    return hold if hold is not None and hold.user_id == cmd.user_id else None


def _confirm(state: DropState | None, cmd: ConfirmPurchase, now: datetime, cid: UUID) -> Decision:
    live = _live(state)
    if live is None:
        return _reject(state, RejectionCode.DROP_NOT_FOUND)
    hold = _find_hold(live, cmd)
    if hold is None:
        last = live.expired.get(cmd.user_id)
        if last is not None and cmd.reservation_id in (None, last):
            return _reject(state, RejectionCode.RESERVATION_EXPIRED)
        return _reject(state, RejectionCode.NO_ACTIVE_RESERVATION)
    if hold.expires_at <= now:  # due but not yet expired by its ExpireHolds command
        return _reject(state, RejectionCode.RESERVATION_EXPIRED)
    out = _Emitter(live, now, cid)
    view = _purchase(live, hold, cmd.username, out)
    return out.done(Verdict(ok=True, result=view))


def _buy_now(state: DropState | None, cmd: BuyNow, now: datetime, cid: UUID) -> Decision:
    live = _live(state)
    if live is None:
        return _reject(state, RejectionCode.DROP_NOT_FOUND)
    code = _admit(live, cmd.user_id, cmd.quantity, now)
    if code is not None:
        return _rejected_reservation(live, cmd.user_id, cmd.quantity, code, now, cid)
    hold = Hold(
        reservation_id=reservation_id_for(cid), drop_id=live.drop_id, user_id=cmd.user_id,
        username=cmd.username, quantity=cmd.quantity, expires_at=now,
    )
    _place(live, hold)
    out = _Emitter(live, now, cid)
    # the hold is placed and consumed in one decision; readers see both facts
    out.emit(_StockReserved(
        reservation_id=hold.reservation_id, user_id=hold.user_id, username=hold.username,
        quantity=hold.quantity, expires_at=hold.expires_at,
    ))
    view = _purchase(live, hold, cmd.username, out)
    return out.done(Verdict(ok=True, result=view))


_DECIDERS: dict[type[Any], Callable[[Any, Any, datetime, UUID], Decision]] = {
    CreateDrop: _create,
    UpdateDrop: _update,
    RestockDrop: _restock,
    DeleteDrop: _delete,
    ReserveStock: _reserve,
    CancelHold: _cancel,
    ConfirmPurchase: _confirm,
    BuyNow: _buy_now,
    ExpireHolds: _expire,
}


def decide(state: DropState | None, command: Command, now: datetime, command_id: UUID) -> Decision:
    """Apply ``command`` (identified by ``command_id``) to the drop's ``state`` at ``now``."""
    return _DECIDERS[type(command)](state, command, utc(now), command_id)
