"""Passwords (argon2id, hashed in a worker thread) and tokens (JWT, HS256).

Hashing is CPU- and memory-heavy: it runs in a thread so the event loop never
blocks, and a semaphore bounds how many run at once (each takes
``ARGON2_MEMORY_KIB``). An unknown user is checked against a dummy hash, so a
login takes as long whether or not the name exists.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from stampede_contracts import utcnow

Role = Literal["admin", "buyer"]
TokenType = Literal["access", "refresh"]


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: UUID
    username: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Passwords:
    def __init__(self, *, memory_kib: int, time_cost: int, concurrency: int) -> None:
        self._hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=1)
        self._slots = asyncio.Semaphore(concurrency)
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        if stored_hash is None:
            if self._dummy is None:
                self._dummy = await self.hash("not the password of anyone")
            stored_hash = self._dummy
            password = password + "\x00"  # never matches the dummy
        async with self._slots:
            return await asyncio.to_thread(self._check, stored_hash, password)

    def _check(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    jti: UUID
    expires_at: datetime


class TokenError(ValueError):
    pass


class Tokens:
    ALGORITHM = "HS256"

    def __init__(self, secret: str, *, access_ttl_s: int, refresh_ttl_s: int) -> None:
        self._secret = secret
        self.access_ttl = timedelta(seconds=access_ttl_s)
        self.refresh_ttl = timedelta(seconds=refresh_ttl_s)

    def issue(self, who: Identity, kind: TokenType) -> IssuedToken:
        now = utcnow()
        expires = now + (self.access_ttl if kind == "access" else self.refresh_ttl)
        jti = uuid.uuid4()
        claims = {
            "sub": str(who.user_id), "name": who.username, "role": who.role, "typ": kind,
            "jti": str(jti), "iat": now, "exp": expires, "iss": "stampede-gateway",
        }
        return IssuedToken(jwt.encode(claims, self._secret, self.ALGORITHM), jti, expires)

    def decode(self, token: str, kind: TokenType) -> tuple[Identity, UUID]:
        who, jti, _ = self._decode(token, kind)
        return who, jti

    def decode_access(self, token: str) -> tuple[Identity, UUID, float]:
        """An access token's identity, id and expiry (unix seconds)."""
        return self._decode(token, "access")

    def _decode(self, token: str, kind: TokenType) -> tuple[Identity, UUID, float]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._secret, algorithms=[self.ALGORITHM], issuer="stampede-gateway",
                options={"require": ["sub", "exp", "iat", "jti", "typ"]},
            )
            if claims.get("typ") != kind or claims.get("role") not in ("admin", "buyer"):
                raise TokenError("wrong token type")
            who = Identity(UUID(claims["sub"]), str(claims.get("name", ""))[:64], claims["role"])
            return who, UUID(claims["jti"]), float(claims["exp"])
        except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
            raise TokenError(str(exc)) from exc
