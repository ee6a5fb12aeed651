"""One error envelope for every failure: `{"error": {"type", "message", "param"}}`.

Client mistakes are 4xx with the offending field in `param`; missing weights are 503 with the fix in the
message; only genuine server faults are 500, and they never echo internals.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from common.errors import STATUS_TYPES, ServiceError, from_validation_error, param_of
from models.errors import ModelError, UnknownModelError

__all__ = ["ApiError", "error_body", "install_error_handlers"]

log = logging.getLogger(__name__)

_TYPES = STATUS_TYPES


class ApiError(Exception):
    """Raised by handlers and dependencies; rendered in the envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        type: str | None = None,  # noqa: A002 - the envelope's own field name
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.type = type or _TYPES.get(status, "error")
        self.headers = headers


def error_body(status: int, message: str, param: str | None = None, type: str | None = None) -> dict:  # noqa: A002
    return {"error": {"type": type or _TYPES.get(status, "error"), "message": message, "param": param}}


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception FastAPI can raise through the envelope."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.message, exc.param, exc.type), exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request", "type": ""}
        param = param_of(tuple(first.get("loc", ())))
        if first.get("type") == "json_invalid":
            return JSONResponse(error_body(400, f"request body is not valid JSON: {first['msg']}", "body"), 400)
        detail = str(first["msg"]).removeprefix("Value error, ")  # pydantic's prefix for our own validators
        message = f"{param}: {detail}" if param else detail
        return JSONResponse(error_body(422, message, param), 422)

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.message, exc.param, exc.type), exc.status)

    @app.exception_handler(ValidationError)
    async def _domain_validation(_: Request, exc: ValidationError) -> JSONResponse:
        error = from_validation_error(exc)
        return JSONResponse(error_body(422, error.message, error.param), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return JSONResponse(error_body(exc.status_code, message), exc.status_code, getattr(exc, "headers", None))

    @app.exception_handler(UnknownModelError)
    async def _unknown_model(_: Request, exc: UnknownModelError) -> JSONResponse:
        return JSONResponse(error_body(404, str(exc), "model"), 404)

    @app.exception_handler(ModelError)
    async def _model(_: Request, exc: ModelError) -> JSONResponse:
        return JSONResponse(error_body(503, str(exc), "model", "model_unavailable"), 503)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(500, "internal error; see the server log", type="internal_error"), 500)
