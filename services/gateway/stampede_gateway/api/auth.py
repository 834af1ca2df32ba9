"""Routes of identity: sign-up, log-in, refresh, log-out."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response, status

from .deps import GatewayDep
from .responses import EDGE, JSON_BODY, errors, success
from .schemas import Credentials, LoginBody, RefreshBody, TokenPairOut, UserOut

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/signup", status_code=status.HTTP_201_CREATED, response_model=UserOut,
    summary="Create a buyer account",
    description="Passwords are hashed with argon2id. Errors: `409 USERNAME_TAKEN`, "
                "`422 VALIDATION_ERROR`.",
    responses={**success(201), **errors(*EDGE, *JSON_BODY, "USERNAME_TAKEN",
                                                "UPSTREAM_UNAVAILABLE")},
)
async def signup(body: Credentials, gw: GatewayDep) -> UserOut:
    account = await gw.accounts.signup(body.username, body.password)
    return UserOut(id=account.id, username=account.username, role="buyer")


@router.post(
    "/login", response_model=TokenPairOut, summary="Log in: access and refresh tokens (JWT)",
    description="Errors: `401 INVALID_CREDENTIALS`.",
    responses={**success(200), **errors(*EDGE, *JSON_BODY, "INVALID_CREDENTIALS",
                                        "UPSTREAM_UNAVAILABLE")},
)
async def login(body: LoginBody, gw: GatewayDep) -> TokenPairOut:
    pair = await gw.accounts.login(body.username, body.password)
    return TokenPairOut(**asdict(pair))


@router.post(
    "/refresh", response_model=TokenPairOut, summary="Trade a refresh token for a new pair",
    description="The refresh token is spent (rotation). Errors: `401 INVALID_TOKEN`.",
    responses={**success(200), **errors(*EDGE, *JSON_BODY, "INVALID_TOKEN",
                                        "UPSTREAM_UNAVAILABLE")},
)
async def refresh(body: RefreshBody, gw: GatewayDep) -> TokenPairOut:
    pair = await gw.accounts.refresh(body.refresh_token)
    return TokenPairOut(**asdict(pair))


@router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
    summary="Revoke a refresh token", description="Errors: `401 INVALID_TOKEN`.",
    responses={**success(204), **errors(*EDGE, *JSON_BODY, "INVALID_TOKEN",
                                        "UPSTREAM_UNAVAILABLE")},
)
async def logout(body: RefreshBody, gw: GatewayDep) -> Response:
    await gw.accounts.logout(body.refresh_token)
    return Response(status_code=204)
