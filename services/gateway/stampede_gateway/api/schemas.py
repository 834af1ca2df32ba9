"""Request and response bodies of the public API (the read shapes come from
``stampede_contracts.read_models``). Bounds on every field: bad input never
reaches Kafka. Every body carries an example for the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from stampede_contracts.read_models import PURCHASE_EXAMPLE, RESERVATION_EXAMPLE

_EXAMPLE_DROP = "5f0c6d2e-8a4b-4c61-9d1e-2b7f3a9c8e10"
HOLD_EXAMPLE = {k: v for k, v in RESERVATION_EXAMPLE.items() if k != "created_at"}


def example(*examples: dict[str, Any]) -> ConfigDict:
    """The model's examples in its JSON schema (and so in the OpenAPI document)."""
    return ConfigDict(json_schema_extra={"examples": list(examples)})


def _printable(value: str) -> str:
    """No control characters and valid UTF-8 (no lone surrogates): text that every store,
    hash and topic downstream accepts as it is."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("control characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid UTF-8 text") from None
    return value


USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]+$"
Username = Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$",
                                examples=["sneakerhead_42"])]
Password = Annotated[str, Field(min_length=8, max_length=128, examples=["correct horse battery"]),
                     AfterValidator(_printable)]
Token = Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^[A-Za-z0-9._-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200, examples=["Air Max 1 '86 OG"]),
                 AfterValidator(_printable)]
Price = Annotated[int, Field(ge=0, le=100_000_000, examples=[17_000],
                             description="Price in minor units (cents).")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["USD"],
                                description="ISO 4217 code.")]
Stock = Annotated[int, Field(ge=0, le=10_000_000, examples=[300])]
PerUserLimit = Annotated[int, Field(ge=1, le=100)]
Ttl = Annotated[int, Field(ge=1, le=3600, description="How long a hold lasts (seconds).")]
Quantity = Annotated[int, Field(ge=1, le=10)]
CreatableStatus = Literal["draft", "scheduled", "live"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Credentials(Body):
    model_config = example({"username": "sneakerhead_42", "password": "correct horse battery"})

    username: Username
    password: Password


class LoginBody(Body):
    model_config = example({"username": "sneakerhead_42", "password": "correct horse battery"})

    username: Annotated[str, Field(min_length=1, max_length=64, pattern=USERNAME_PATTERN,
                                   examples=["sneakerhead_42"])]
    password: Annotated[str, Field(min_length=1, max_length=128,
                                   examples=["correct horse battery"]),
                        AfterValidator(_printable)]


class RefreshBody(Body):
    model_config = example({"refresh_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"})

    refresh_token: Token


class UserOut(BaseModel):
    model_config = example({"id": "3c9a7f5e-1d2b-4e8f-9a6c-7b5d4e3f2a10",
                            "username": "sneakerhead_42", "role": "buyer"})

    id: UUID
    username: str
    role: Literal["admin", "buyer"]


class TokenPairOut(BaseModel):
    model_config = example({"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.YWNjZXNz",
                            "refresh_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJyIn0.cmVmcmVzaA",
                            "token_type": "bearer", "expires_in": 900,
                            "refresh_expires_in": 1209600})

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token is valid.")
    refresh_expires_in: int


class _DropFields(Body):
    @model_validator(mode="after")
    def _window(self) -> Any:
        starts, ends = getattr(self, "starts_at", None), getattr(self, "ends_at", None)
        if starts is not None and ends is not None and ends <= starts:
            raise ValueError("ends_at must be after starts_at")
        return self


class WaitingRoomIn(Body):
    """A drop's waiting room: arrivals faster than ``admit_per_s`` queue for it."""

    model_config = example({"admit_per_s": 50, "mode": "lottery"})

    admit_per_s: Annotated[float, Field(gt=0, le=1_000_000, examples=[50],
                                        description="Buyers let through per second.")]
    mode: Literal["fifo", "lottery"] = Field(
        default="fifo", description="`lottery`: the places of everyone who joined before "
        "`starts_at` are drawn at random at the start; `fifo`: order of arrival.")


class DropCreate(_DropFields):
    name: Name
    price_cents: Price
    currency: Currency = "USD"
    total_stock: Stock
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    status: CreatableStatus | None = Field(
        default=None,
        description="Derived from starts_at when absent; `draft` hides the drop.",
    )
    per_user_limit: PerUserLimit = 1
    reservation_ttl_seconds: Ttl = 60
    waiting_room: WaitingRoomIn | None = Field(
        default=None, description="Defaults: the gateway's settings (fifo).")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "Air Max 1 '86 OG", "price_cents": 17000, "currency": "USD",
        "total_stock": 300, "per_user_limit": 1,
        "waiting_room": {"admit_per_s": 50, "mode": "lottery"},
    }]})


class DropPatch(_DropFields):
    """Fields to change; stock is changed with ``/restock``."""

    model_config = example({"name": "Air Max 1 '86 OG (restock)"},
                           {"waiting_room": {"admit_per_s": 200, "mode": "fifo"}})

    name: Name | None = None
    price_cents: Price | None = None
    currency: Currency | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    status: CreatableStatus | None = None
    per_user_limit: PerUserLimit | None = None
    reservation_ttl_seconds: Ttl | None = None
    waiting_room: WaitingRoomIn | None = None


class Restock(Body):
    model_config = example({"total_stock": 400})

    total_stock: Stock


class StockStatus(BaseModel):
    model_config = example({"total_stock": 300, "available": 212, "held": 40, "sold": 48})

    total_stock: int
    available: int
    held: int
    sold: int


class ReserveBody(Body):
    model_config = example({"quantity": 1})

    quantity: Quantity = 1


class PurchaseBody(Body):
    model_config = example({"reservation_id": RESERVATION_EXAMPLE["id"]}, {})

    reservation_id: UUID | None = Field(
        default=None, description="The hold to buy with; the caller's only hold by default."
    )


class OrderBody(Body):
    model_config = example({"drop_id": _EXAMPLE_DROP, "quantity": 1})

    drop_id: UUID
    quantity: Quantity = 1


class ReservationOut(BaseModel):
    model_config = example(HOLD_EXAMPLE)

    id: UUID
    drop_id: UUID
    quantity: int
    status: Literal["active", "purchased", "cancelled", "expired"]
    expires_at: datetime


class ReservationEnvelope(BaseModel):
    model_config = example({"reservation": HOLD_EXAMPLE})

    reservation: ReservationOut


class PurchaseOut(BaseModel):
    model_config = example(PURCHASE_EXAMPLE)

    id: UUID
    drop_id: UUID
    reservation_id: UUID
    quantity: int
    amount_cents: int
    currency: str
    status: Literal["paid"] = "paid"
    created_at: datetime


class PurchaseEnvelope(BaseModel):
    model_config = example({"purchase": PURCHASE_EXAMPLE})

    purchase: PurchaseOut


class OrderOut(BaseModel):
    model_config = example({"status": "success", "purchase": PURCHASE_EXAMPLE})

    status: Literal["success"] = "success"
    purchase: PurchaseOut | None = None


class Pending(BaseModel):
    """Answered ``202``: the outcome is not known yet; read it at ``outcome_url``."""

    model_config = example({"status": "pending", "idempotency_key": "buy-7f3e9c",
                            "outcome_url": "/api/requests/buy-7f3e9c"})

    status: Literal["pending"] = "pending"
    idempotency_key: str
    outcome_url: str


class Outcome(BaseModel):
    model_config = example({"idempotency_key": "buy-7f3e9c", "status": "completed",
                            "response_status": 201, "response": {"reservation": HOLD_EXAMPLE}})

    idempotency_key: str
    status: Literal["completed"] = "completed"
    response_status: int = Field(description="The status the request was answered with.")
    response: dict[str, Any] = Field(description="The body it was answered with.")


class QueueStatusOut(BaseModel):
    model_config = example({"drop_id": _EXAMPLE_DROP, "position": 42, "admitted": False,
                            "sold_out": False, "eta_seconds": 1, "retry_after": 1})

    drop_id: UUID
    position: int | None = Field(description="Places ahead, its own included (1 = next); 0 "
                                 "once admitted; null until a lottery is drawn at the start.")
    admitted: bool
    sold_out: bool = Field(description="Nothing available and nothing held: stop waiting.")
    eta_seconds: int
    retry_after: int = Field(description="Seconds until it is worth asking again.")


class WaitingRoomFigures(BaseModel):
    """A drop's waiting room now (admin)."""

    model_config = example({"waiting": 1200, "serving": 3400, "issued": 4600,
                            "admit_per_s": 50.0, "mode": "lottery"})

    waiting: int = Field(description="Numbers issued and not served yet.")
    serving: int = Field(description="Places up to here are admitted.")
    issued: int = Field(description="Numbers handed out so far.")
    admit_per_s: float
    mode: Literal["fifo", "lottery"]
