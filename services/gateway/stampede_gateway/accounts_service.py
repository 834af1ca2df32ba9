"""Accounts: sign-up, log-in, token refresh (rotating) and log-out, the admin on start."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from .adapters.accounts import Account, AccountStore
from .adapters.accounts import UsernameTaken as _Taken
from .errors import InvalidCredentials, InvalidToken, UsernameTaken
from .security import Identity, Passwords, TokenError, Tokens

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    token_type: str = "bearer"


def identity_of(account: Account) -> Identity:
    if account.role == "admin":
        return Identity(account.id, account.username, "admin")
    return Identity(account.id, account.username, "buyer")


class Accounts:
    def __init__(self, store: AccountStore, passwords: Passwords, tokens: Tokens) -> None:
        self._store = store
        self._passwords = passwords
        self._tokens = tokens

    async def signup(self, username: str, password: str) -> Account:
        password_hash = await self._passwords.hash(password)
        try:
            return await self._store.create(uuid.uuid4(), username, password_hash, "buyer")
        except _Taken:
            raise UsernameTaken() from None

    async def login(self, username: str, password: str) -> TokenPair:
        account = await self._store.by_username(username)
        ok = await self._passwords.verify(account.password_hash if account else None, password)
        if account is None or not ok:
            raise InvalidCredentials()
        return await self._pair(identity_of(account))

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotation: the refresh token is spent (revoked) and a new pair issued."""
        who, jti = self._decode_refresh(refresh_token)
        if not await self._store.revoke_refresh(jti):
            raise InvalidToken()
        account = await self._store.by_id(who.user_id)
        if account is None:
            raise InvalidToken()
        return await self._pair(identity_of(account))

    async def logout(self, refresh_token: str) -> None:
        _, jti = self._decode_refresh(refresh_token)
        await self._store.revoke_refresh(jti)  # idempotent: revoking twice is fine

    def _decode_refresh(self, token: str) -> tuple[Identity, uuid.UUID]:
        try:
            return self._tokens.decode(token, "refresh")
        except TokenError:
            raise InvalidToken() from None

    async def _pair(self, who: Identity) -> TokenPair:
        access = self._tokens.issue(who, "access")
        refresh = self._tokens.issue(who, "refresh")
        await self._store.add_refresh(refresh.jti, who.user_id, refresh.expires_at)
        return TokenPair(
            access.token, refresh.token, int(self._tokens.access_ttl.total_seconds()),
            int(self._tokens.refresh_ttl.total_seconds()),
        )

    async def ensure_admin(self, username: str, password: str) -> None:
        """The admin account exists with this password and the admin role."""
        password_hash = await self._passwords.hash(password)
        account = await self._store.by_username(username)
        if account is None:
            try:
                await self._store.create(uuid.uuid4(), username, password_hash, "admin")
                log.info("created the admin account %r", username)
                return
            except _Taken:  # another gateway process created it just now
                account = await self._store.by_username(username)
        assert account is not None
        await self._store.set_admin(account.id, password_hash)
