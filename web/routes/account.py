"""/api/v1/me and /api/v1/tokens: your profile and your personal API tokens."""

from __future__ import annotations

from fastapi import APIRouter, status

from domain import usecases as uc
from domain.usecases import TokenView, UserView
from web.deps import CurrentActor, UowDep
from web.problems import responses
from web.schemas import MePatch, TokenCreate, TokenCreated, TokenId

router = APIRouter(prefix="/api/v1", tags=["account"], responses=responses(401))


@router.get("/me", response_model=UserView)
async def me(uow: UowDep, actor: CurrentActor) -> UserView:
    """Your account."""
    return await uc.get_user(uow, user_id=actor.id)


@router.patch("/me", response_model=UserView, responses=responses(422))
async def update_me(uow: UowDep, actor: CurrentActor, body: MePatch) -> UserView:
    """Change your timezone (an IANA name); all-day due dates keep their day."""
    return await uc.set_timezone(uow, actor, body.timezone)


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated, responses=responses(422))
async def create_token(uow: UowDep, actor: CurrentActor, body: TokenCreate) -> TokenCreated:
    """Create a personal API token for scripts and MCP clients; the value is shown only in this answer."""
    token, view = await uc.create_api_token(uow, actor, body.name)
    return TokenCreated(id=view.id, name=view.name, token=token)


@router.get("/tokens", response_model=list[TokenView])
async def list_tokens(uow: UowDep, actor: CurrentActor) -> list[TokenView]:
    """Your tokens (never their values)."""
    return await uc.list_tokens(uow, actor)


@router.delete("/tokens/{token_id}", response_model=TokenView, responses=responses(404))
async def revoke_token(uow: UowDep, actor: CurrentActor, token_id: TokenId) -> TokenView:
    """Revoke one of your tokens; it stops working at once."""
    return await uc.revoke_token(uow, token_id, actor)
