"""Dependencies shared by the `/v1` routers: authentication with a scope, then the rate limit."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request

from serving.auth import Principal
from serving.errors import ApiError
from serving.runtime import Runtime, get_runtime

__all__ = ["require", "any_key"]


def require(scope: str) -> Callable[..., Principal]:
    """A dependency that admits keys holding `scope` (or `admin`)."""

    def dependency(request: Request, runtime: Runtime = Depends(get_runtime)) -> Principal:
        principal = runtime.keys.authenticate(request)
        if not principal.allows(scope):
            raise ApiError(403, f"this API key lacks the {scope!r} scope", "Authorization")
        runtime.rate_limiter.check(principal)
        return principal

    return dependency


def any_key(request: Request, runtime: Runtime = Depends(get_runtime)) -> Principal:
    """Any valid key, whatever its scopes."""
    principal = runtime.keys.authenticate(request)
    runtime.rate_limiter.check(principal)
    return principal
