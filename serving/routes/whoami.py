"""`GET /v1/whoami`: the calling key's public id and scopes.

A merchant reads its `key_id` here and hands it to the platform, which names it as a listing's
`merchant_id` when it asks for moderation; that merchant can then read and appeal the decision.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from serving.auth import Principal
from serving.protocol import ErrorEnvelope
from serving.routes.deps import any_key

__all__ = ["router", "WhoAmIOut"]

router = APIRouter(prefix="/v1", tags=["keys"], responses={401: {"model": ErrorEnvelope}})


class WhoAmIOut(BaseModel):
    key_id: str = Field(description="The key's public id (12 hex characters of its SHA-256); never the key itself.")
    scopes: list[str] = Field(description="merchant, platform and/or admin")


@router.get("/whoami", response_model=WhoAmIOut)
async def whoami(principal: Principal = Depends(any_key)) -> WhoAmIOut:
    return WhoAmIOut(key_id=principal.key_id, scopes=sorted(principal.scopes))
