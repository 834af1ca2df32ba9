"""Routes of the caller's own things: who I am, my holds, my purchases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from stampede_contracts import Page, PurchaseRead, ReservationRead

from .deps import CurrentUser, GatewayDep
from .responses import CALLER, EDGE, errors, success
from .schemas import UserOut

router = APIRouter(prefix="/api/me", tags=["me"])

Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
_LIST = {**success(200), **errors(*EDGE, *CALLER, "VALIDATION_ERROR", "UPSTREAM_UNAVAILABLE")}


@router.get("", response_model=UserOut, summary="Who am I",
            responses={**success(200), **errors(*EDGE, *CALLER)})
async def me(who: CurrentUser) -> UserOut:
    return UserOut(id=who.user_id, username=who.username, role=who.role)


@router.get("/reservations", response_model=Page[ReservationRead], summary="My holds",
            description="Newest first.", responses=_LIST)
async def my_reservations(who: CurrentUser, gw: GatewayDep, limit: Limit = 20,
                          offset: Offset = 0) -> Page[ReservationRead]:
    return await gw.orders.user_reservations(who.user_id, limit, offset)


@router.get("/purchases", response_model=Page[PurchaseRead], summary="My purchases",
            description="Newest first.", responses=_LIST)
async def my_purchases(who: CurrentUser, gw: GatewayDep, limit: Limit = 20,
                       offset: Offset = 0) -> Page[PurchaseRead]:
    return await gw.orders.user_purchases(who.user_id, limit, offset)
