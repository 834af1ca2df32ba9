"""Who is calling: a bearer access token, or (``DEV_MODE`` only) ``X-User-Id``.

In development mode ``X-User-Id: <uuid>`` (with optional ``X-User-Name`` and
``X-User-Role: admin``) identifies a user without a token; outside it these
headers are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any
from uuid import UUID

from .errors import InvalidToken, Unauthorized
from .security import Identity, TokenError, Tokens

_DEV_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def resolve(headers: Mapping[str, str], tokens: Tokens, dev_mode: bool) -> Identity | None:
    """The caller, None when anonymous; a bad credential raises (401)."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Use 'Authorization: Bearer <access token>'.")
        try:
            who, _ = tokens.decode(token.strip(), "access")
        except TokenError:
            raise InvalidToken() from None
        return who
    user_id = headers.get("x-user-id")
    if dev_mode and user_id:
        try:
            uid = UUID(user_id)
        except ValueError:
            raise Unauthorized("X-User-Id must be a UUID.") from None
        name = headers.get("x-user-name") or f"user-{uid.hex[:8]}"
        if not _DEV_NAME.match(name):
            raise Unauthorized("X-User-Name must be 1-64 letters, digits or _.@-")
        if headers.get("x-user-role", "").lower() == "admin":
            return Identity(uid, name, "admin")
        return Identity(uid, name, "buyer")
    return None


_SCOPE_KEY = "stampede.identity"


def resolve_once(
    scope: MutableMapping[str, Any], headers: Mapping[str, str], tokens: Tokens, dev_mode: bool,
) -> Identity | None:
    """``resolve``, remembered in the ASGI scope: the guards (rate-limit key) and the route
    (the caller) ask the same question, and a token is verified once per request."""
    if _SCOPE_KEY not in scope:
        try:
            scope[_SCOPE_KEY] = resolve(headers, tokens, dev_mode)
        except (Unauthorized, InvalidToken) as exc:
            scope[_SCOPE_KEY] = exc
    known: Identity | Unauthorized | InvalidToken | None = scope[_SCOPE_KEY]
    if isinstance(known, Unauthorized | InvalidToken):
        raise type(known)(known.detail or "")
    return known


def client_key(
    scope: MutableMapping[str, Any], headers: Mapping[str, str], ip: str, tokens: Tokens,
    dev_mode: bool,
) -> str:
    """The rate-limit and ticket key: the user when identified, else the IP address."""
    try:
        who = resolve_once(scope, headers, tokens, dev_mode)
    except (Unauthorized, InvalidToken):
        who = None
    return f"user:{who.user_id}" if who else f"ip:{ip}"
