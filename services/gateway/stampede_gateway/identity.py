"""Who is calling: a bearer access token, or (``DEV_MODE`` only) ``X-User-Id``.

In development mode ``X-User-Id: <uuid>`` (with optional ``X-User-Name`` and
``X-User-Role: admin``) identifies a user without a token; outside it these headers are
ignored. A verified access token is remembered until it expires (a buyer's page sends
the same token with every request; verifying its signature each time was a large part
of a request's cost). Access tokens are not revocable, so remembering changes nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, MutableMapping
from typing import Any
from uuid import UUID

from .errors import InvalidToken, Unauthorized
from .security import Identity, TokenError, Tokens

_DEV_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_SCOPE_KEY = "stampede.identity"


class Identities:
    def __init__(self, tokens: Tokens, dev_mode: bool, *, remember: int = 50_000) -> None:
        self._tokens = tokens
        self.dev_mode = dev_mode
        self._remember = remember
        self._verified: dict[str, tuple[Identity, float]] = {}  # token -> (who, exp)

    def resolve(self, headers: Mapping[str, str]) -> Identity | None:
        """The caller, None when anonymous; a bad credential raises (401)."""
        authorization = headers.get("authorization")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise Unauthorized("Use 'Authorization: Bearer <access token>'.")
            return self._bearer(token)
        user_id = headers.get("x-user-id")
        if self.dev_mode and user_id:
            return _dev_identity(user_id, headers)
        return None

    def _bearer(self, token: str) -> Identity:
        known = self._verified.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        try:
            who, _, expires = self._tokens.decode_access(token)
        except TokenError:
            raise InvalidToken() from None
        if len(self._verified) >= self._remember:
            self._verified.clear()  # rare; the next requests verify again
        self._verified[token] = (who, expires)
        return who

    def resolve_once(self, scope: MutableMapping[str, Any],
                     headers: Mapping[str, str]) -> Identity | None:
        """``resolve``, remembered in the ASGI scope: the guards (rate-limit key) and the
        route (the caller) ask the same question once per request."""
        if _SCOPE_KEY not in scope:
            try:
                scope[_SCOPE_KEY] = self.resolve(headers)
            except (Unauthorized, InvalidToken) as exc:
                scope[_SCOPE_KEY] = exc
        known: Identity | Unauthorized | InvalidToken | None = scope[_SCOPE_KEY]
        if isinstance(known, Unauthorized | InvalidToken):
            raise type(known)(known.detail)
        return known

    def client_key(self, scope: MutableMapping[str, Any], headers: Mapping[str, str],
                   ip: str) -> str:
        """The rate-limit and ticket key: the user when identified, else the IP address."""
        try:
            who = self.resolve_once(scope, headers)
        except (Unauthorized, InvalidToken):
            who = None
        return client_key_of(who, ip)


def client_key_of(who: Identity | None, ip: str) -> str:
    return f"user:{who.user_id}" if who else f"ip:{ip}"


def _dev_identity(user_id: str, headers: Mapping[str, str]) -> Identity:
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
