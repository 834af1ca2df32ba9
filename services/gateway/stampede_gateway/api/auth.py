"""Routes of identity: sign-up, log-in, refresh, log-out."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response, status
from stampede_runtime.problems import problem_responses

from .deps import GatewayDep
from .schemas import Credentials, LoginBody, RefreshBody, TokenPairOut, UserOut

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/signup", status_code=status.HTTP_201_CREATED, response_model=UserOut,
    summary="Create a buyer account",
    description="Passwords are hashed with argon2id. Errors: `409 USERNAME_TAKEN`, "
                "`422 VALIDATION_ERROR`.",
    responses=problem_responses(400, 409, 413, 422, 429),
)
async def signup(body: Credentials, gw: GatewayDep) -> UserOut:
    account = await gw.accounts.signup(body.username, body.password)
    return UserOut(id=account.id, username=account.username, role="buyer")


@router.post(
    "/login", response_model=TokenPairOut, summary="Log in: access and refresh tokens (JWT)",
    description="Errors: `401 INVALID_CREDENTIALS`.",
    responses=problem_responses(400, 401, 413, 422, 429),
)
async def login(body: LoginBody, gw: GatewayDep) -> TokenPairOut:
    pair = await gw.accounts.login(body.username, body.password)
    return TokenPairOut(**asdict(pair))


@router.post(
    "/refresh", response_model=TokenPairOut, summary="Trade a refresh token for a new pair",
    description="The refresh token is spent (rotation). Errors: `401 INVALID_TOKEN`.",
    responses=problem_responses(400, 401, 413, 422, 429),
)
async def refresh(body: RefreshBody, gw: GatewayDep) -> TokenPairOut:
    pair = await gw.accounts.refresh(body.refresh_token)
    return TokenPairOut(**asdict(pair))


@router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
    summary="Revoke a refresh token", description="Errors: `401 INVALID_TOKEN`.",
    responses=problem_responses(400, 401, 413, 422, 429),
)
async def logout(body: RefreshBody, gw: GatewayDep) -> Response:
    await gw.accounts.logout(body.refresh_token)
    return Response(status_code=204)
