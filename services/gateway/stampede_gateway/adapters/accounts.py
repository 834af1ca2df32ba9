"""Accounts and refresh tokens in PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from psycopg.errors import UniqueViolation
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


@dataclass(frozen=True, slots=True)
class Account:
    id: UUID
    username: str
    password_hash: str
    role: str
    created_at: datetime


class UsernameTaken(Exception):
    pass


def username_key(username: str) -> str:
    return username.casefold()


class AccountStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def create(self, user_id: UUID, username: str, password_hash: str, role: str) -> Account:
        try:
            async with self._pool.connection() as conn:
                cur = conn.cursor(row_factory=dict_row)
                await cur.execute(
                    "INSERT INTO users (id, username, username_key, password_hash, role) "
                    "VALUES (%s, %s, %s, %s, %s) RETURNING *",
                    (user_id, username, username_key(username), password_hash, role),
                )
                row = await cur.fetchone()
        except UniqueViolation as exc:
            raise UsernameTaken(username) from exc
        assert row is not None
        return _account(row)

    async def by_username(self, username: str) -> Account | None:
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT * FROM users WHERE username_key = %s", (username_key(username),)
            )
            row = await cur.fetchone()
        return _account(row) if row else None

    async def by_id(self, user_id: UUID) -> Account | None:
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute("SELECT * FROM users WHERE id = %s", (user_id,))
            row = await cur.fetchone()
        return _account(row) if row else None

    async def set_admin(self, user_id: UUID, password_hash: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE users SET password_hash = %s, role = 'admin' WHERE id = %s",
                (password_hash, user_id),
            )

    async def add_refresh(self, jti: UUID, user_id: UUID, expires_at: datetime) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO refresh_tokens (jti, user_id, expires_at) VALUES (%s, %s, %s)",
                (jti, user_id, expires_at),
            )

    async def revoke_refresh(self, jti: UUID) -> bool:
        """Revoke a live refresh token; False if unknown, expired or already revoked."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE refresh_tokens SET revoked_at = now() "
                "WHERE jti = %s AND revoked_at IS NULL AND expires_at > now()",
                (jti,),
            )
            return cur.rowcount == 1


def _account(row: dict[str, object]) -> Account:
    return Account(
        id=row["id"],  # type: ignore[arg-type]
        username=str(row["username"]),
        password_hash=str(row["password_hash"]),
        role=str(row["role"]),
        created_at=row["created_at"],  # type: ignore[arg-type]
    )
