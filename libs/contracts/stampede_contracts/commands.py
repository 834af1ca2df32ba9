"""Commands to the inventory: imperatives, each about exactly one drop.

Every command is addressed by ``drop_id`` (the Kafka key of
``inventory.commands``), so all commands about one drop are applied in order by
the single owner of its partition.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from .common import DropSpec, Frozen, Quantity, StockCount, Username, UtcDatetime


class CreateDrop(Frozen):
    type: Literal["CreateDrop"] = "CreateDrop"
    drop: DropSpec

    @property
    def drop_id(self) -> UUID:
        return self.drop.drop_id


class UpdateDrop(Frozen):
    """Replace the admin-editable fields of a drop (stock is changed by ``RestockDrop``)."""

    type: Literal["UpdateDrop"] = "UpdateDrop"
    drop: DropSpec

    @property
    def drop_id(self) -> UUID:
        return self.drop.drop_id


class RestockDrop(Frozen):
    """The operator's "init/reset stock": set ``total_stock``; holds and sales stay."""

    type: Literal["RestockDrop"] = "RestockDrop"
    drop_id: UUID
    total_stock: StockCount


class DeleteDrop(Frozen):
    type: Literal["DeleteDrop"] = "DeleteDrop"
    drop_id: UUID


class ReserveStock(Frozen):
    """Place a hold. The reservation id is derived from the command id."""

    type: Literal["ReserveStock"] = "ReserveStock"
    drop_id: UUID
    user_id: UUID
    username: Username
    quantity: Quantity = 1


class CancelHold(Frozen):
    type: Literal["CancelHold"] = "CancelHold"
    drop_id: UUID
    user_id: UUID
    reservation_id: UUID


class ConfirmPurchase(Frozen):
    """Buy with the caller's active hold on the drop (the one named, or the only one)."""

    type: Literal["ConfirmPurchase"] = "ConfirmPurchase"
    drop_id: UUID
    user_id: UUID
    username: Username
    reservation_id: UUID | None = None


class BuyNow(Frozen):
    """Reserve and purchase in one decision: the edge clients' "buy now" button."""

    type: Literal["BuyNow"] = "BuyNow"
    drop_id: UUID
    user_id: UUID
    username: Username
    quantity: Quantity = 1


class ExpireHolds(Frozen):
    """Sent by the drop's owner to its own stream: expire every hold due by ``as_of``."""

    type: Literal["ExpireHolds"] = "ExpireHolds"
    drop_id: UUID
    as_of: UtcDatetime


Command = Annotated[
    CreateDrop
    | UpdateDrop
    | RestockDrop
    | DeleteDrop
    | ReserveStock
    | CancelHold
    | ConfirmPurchase
    | BuyNow
    | ExpireHolds,
    Field(discriminator="type"),
]
