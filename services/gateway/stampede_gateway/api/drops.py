"""Routes of drops: the catalog (read from orders) and its management (admin)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from pydantic import ValidationError
from stampede_contracts import DropRead, DropSpec, Page, PublicPurchase, utcnow

from ..errors import InvalidInput
from .deps import AdminUser, GatewayDep
from .responses import ADMIN, CALLER, EDGE, errors, success
from .schemas import DropCreate, DropPatch, Restock, StockStatus, WaitingRoomFigures

router = APIRouter(prefix="/api/drops", tags=["drops"])

Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")]
#: a public read's answers
READ = {**success(200), **errors(*EDGE, "VALIDATION_ERROR", "DROP_NOT_FOUND",
                                  "UPSTREAM_UNAVAILABLE")}


def _spec_fields(fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Admin fields -> DropSpec fields: ``status`` becomes ``draft`` and is checked
    against the window it describes."""
    wanted = fields.pop("status", None)
    fields["draft"] = wanted == "draft"
    starts, ends = fields.get("starts_at"), fields.get("ends_at")
    if wanted == "scheduled" and (starts is None or starts <= now):
        raise InvalidInput("status 'scheduled' needs starts_at in the future")
    if wanted == "live" and (starts is not None and starts > now):
        raise InvalidInput("status 'live' needs starts_at absent or in the past")
    if wanted == "live" and ends is not None and ends <= now:
        raise InvalidInput("status 'live' needs ends_at absent or in the future")
    if starts is not None and ends is not None and ends <= starts:
        raise InvalidInput("ends_at must be after starts_at")
    return fields


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=DropRead,
    summary="Create a drop (admin)",
    description="Sent to the drop's single writer (the inventory); answered with the drop "
                "once it is decided. Status derives from `starts_at` when absent.",
    responses={**success(201), **errors(*ADMIN)},
)
async def create_drop(body: DropCreate, _admin: AdminUser, gw: GatewayDep) -> DropRead:
    fields = _spec_fields(body.model_dump(), utcnow())
    if fields["waiting_room"] is None:  # the drop carries its settings from the start
        rate, mode = gw.rooms.settings_of(None)
        fields["waiting_room"] = {"admit_per_s": rate, "mode": mode.value}
    return await gw.drops.create(fields)


@router.get(
    "", response_model=Page[DropRead], summary="List active drops",
    description="Active drops (scheduled, or live within their window) with "
                "`available_stock` and the 3 latest purchasers; `active=false` lists all.",
    responses={**success(200), **errors(*EDGE, "VALIDATION_ERROR", "UPSTREAM_UNAVAILABLE")},
)
async def list_drops(gw: GatewayDep, limit: Limit = 20, offset: Offset = 0,
                     active: bool = True) -> Page[DropRead]:
    return await gw.orders.drops(active=active, limit=limit, offset=offset)


@router.get(
    "/{drop_id}", response_model=DropRead, summary="One drop",
    description="Read-your-writes: right after its `201` (or a change), the drop as "
                "decided, even before the catalog (the read model) has it.",
    responses=READ,
)
async def get_drop(drop_id: UUID, gw: GatewayDep) -> DropRead:
    return await gw.drops.read(drop_id)


@router.patch(
    "/{drop_id}", response_model=DropRead, summary="Change a drop (admin)",
    description="Only the fields given change; stock changes with `/restock`.",
    responses={**success(200), **errors(*ADMIN, "DROP_NOT_FOUND")},
)
async def update_drop(drop_id: UUID, body: DropPatch, _admin: AdminUser,
                      gw: GatewayDep) -> DropRead:
    current = await gw.drops.current_spec(drop_id)
    fields = current.model_dump()
    changes = body.model_dump(exclude_unset=True)
    if "status" not in changes:
        changes["status"] = "draft" if current.draft else None
    fields.update(changes)
    fields.pop("drop_id")
    try:
        spec = DropSpec(drop_id=drop_id, **_spec_fields(fields, utcnow()))
    except ValidationError as exc:
        raise InvalidInput(f"invalid drop: {exc.errors()[0]['msg']}") from None
    return await gw.drops.update(drop_id, spec)


@router.delete(
    "/{drop_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
    summary="Delete a drop (admin)",
    description="Only a drop with no holds and no sales: otherwise `409 DROP_NOT_EMPTY`.",
    responses={**success(204), **errors(*ADMIN, "DROP_NOT_FOUND", "DROP_NOT_EMPTY")},
)
async def delete_drop(drop_id: UUID, _admin: AdminUser, gw: GatewayDep) -> Response:
    await gw.drops.delete(drop_id)
    return Response(status_code=204)


@router.get(
    "/{drop_id}/status", response_model=StockStatus, summary="Stock of a drop, now",
    description="From the gateway's own view of the inventory's events.",
    responses=READ,
)
async def drop_status(drop_id: UUID, gw: GatewayDep) -> StockStatus:
    stock = await gw.drops.stock(drop_id)
    return StockStatus(total_stock=stock.total_stock, available=stock.available,
                       held=stock.held, sold=stock.sold)


@router.post(
    "/{drop_id}/restock", response_model=DropRead, summary="Set a drop's total stock (admin)",
    description="The operator's init/reset of stock, applied by the drop's single writer; "
                "holds and sales stay. `422 INVALID_STOCK` below held + sold.",
    responses={**success(200), **errors(*ADMIN, "DROP_NOT_FOUND", "INVALID_STOCK")},
)
async def restock(drop_id: UUID, body: Restock, _admin: AdminUser, gw: GatewayDep) -> DropRead:
    return await gw.drops.restock(drop_id, body.total_stock)


@router.get(
    "/{drop_id}/waiting-room", response_model=WaitingRoomFigures,
    summary="A drop's waiting room now (admin)",
    description="`{waiting, serving, issued, admit_per_s, mode}`, as every gateway process "
                "sees them (the counters are shared). Change the rate or mode with `PATCH`.",
    responses={**success(200), **errors(*EDGE, *CALLER, "VALIDATION_ERROR", "FORBIDDEN",
                                        "DROP_NOT_FOUND", "UPSTREAM_UNAVAILABLE")},
)
async def waiting_room(drop_id: UUID, _admin: AdminUser, gw: GatewayDep) -> WaitingRoomFigures:
    if gw.edge.views.get(drop_id) is None:
        await gw.orders.drop(drop_id)  # 404 when there is no such drop
    room, rate, mode = await gw.rooms.figures(drop_id)
    if room is None:
        return WaitingRoomFigures(waiting=0, serving=0, issued=0, admit_per_s=rate,
                                  mode=mode.value)
    serving = room.serving_now(time.time())
    return WaitingRoomFigures(waiting=max(0, room.issued - serving), serving=serving,
                              issued=room.issued, admit_per_s=rate, mode=mode.value)


@router.get(
    "/{drop_id}/purchases", response_model=Page[PublicPurchase],
    summary="Recent purchases of a drop (public fields)",
    responses=READ,
)
async def drop_purchases(drop_id: UUID, gw: GatewayDep, limit: Limit = 20,
                         offset: Offset = 0) -> Page[PublicPurchase]:
    return await gw.orders.purchases(drop_id, limit, offset)
