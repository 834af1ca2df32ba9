"""The orders service's internal read API (shapes in ``stampede_contracts.read_models``)."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import httpx
from stampede_contracts import DropRead, Page, PublicPurchase, PurchaseRead, ReservationRead

from ..errors import DropNotFound, UpstreamUnavailable

log = logging.getLogger(__name__)


class OrdersClient:
    def __init__(self, base_url: str, *, token: str | None = None,
                 timeout_s: float = 5.0) -> None:
        # the service token orders requires of every /internal call (ORDERS_SERVICE_TOKEN)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, headers=headers)

    async def close(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("The catalog is unavailable; try again.") from exc
        if response.status_code >= 500:
            raise UpstreamUnavailable("The catalog is unavailable; try again.")
        return response

    async def drops(self, *, active: bool, limit: int, offset: int) -> Page[DropRead]:
        r = await self._get("/internal/drops", {"active": str(active).lower(), "limit": limit,
                                                "offset": offset})
        _check(r)
        return Page[DropRead].model_validate_json(r.content)

    async def drop(self, drop_id: UUID) -> DropRead:
        r = await self._get(f"/internal/drops/{drop_id}")
        if r.status_code == 404:
            raise DropNotFound()
        _check(r)
        return DropRead.model_validate_json(r.content)

    async def purchases(self, drop_id: UUID, limit: int, offset: int) -> Page[PublicPurchase]:
        r = await self._get(f"/internal/drops/{drop_id}/purchases",
                            {"limit": limit, "offset": offset})
        if r.status_code == 404:
            raise DropNotFound()
        _check(r)
        return Page[PublicPurchase].model_validate_json(r.content)

    async def user_reservations(
        self, user_id: UUID, limit: int, offset: int
    ) -> Page[ReservationRead]:
        r = await self._get(f"/internal/users/{user_id}/reservations",
                            {"limit": limit, "offset": offset})
        _check(r)
        return Page[ReservationRead].model_validate_json(r.content)

    async def user_purchases(self, user_id: UUID, limit: int, offset: int) -> Page[PurchaseRead]:
        r = await self._get(f"/internal/users/{user_id}/purchases",
                            {"limit": limit, "offset": offset})
        _check(r)
        return Page[PurchaseRead].model_validate_json(r.content)

    async def ready(self) -> bool:
        try:
            r = await self._http.get("/healthz", timeout=1.0)
        except httpx.HTTPError:
            return False
        return r.status_code == 200


def _check(response: httpx.Response) -> None:
    if response.status_code == 401:
        log.error("orders refused the service token: ORDERS_SERVICE_TOKEN differs "
                  "between the gateway and orders")
    if not response.is_success:
        raise UpstreamUnavailable("The catalog gave an unexpected answer; try again.")
