"""The OpenAPI document completed from the routes themselves: the API key scheme and every error a route answers.

`document_api(app)` makes `app.openapi()` FastAPI's document plus, for every operation (new routes included,
nothing to declare by hand):

1. `security`: routes whose dependencies read an API key (`require(scope)`, `any_key`) take the HTTP bearer
   scheme or the `X-API-Key` header (3.1 role names: the scope; `admin` holds every scope).
2. Error statuses from the route's shape, each with the `ErrorEnvelope` body: 400 (a body that is not JSON or
   not a form), 401 and 429 (a key: unknown or missing; its rate limit), 403 (a scope), 404 (an id in the path),
   413 (a body: `NOTESTUDIO_MAX_BODY_BYTES`), 422 (parameters or a body), 503 (a service that may need a model).
   A status a router declared itself is kept (409, 502, LibreTranslate's own `{"error": "..."}` ...).
3. FastAPI's 422 `HTTPValidationError` replaced by the envelope: what `install_error_handlers` answers.
4. Form bodies (multipart, urlencoded) inlined with their fields never null: a form field is given or not, and
   one not given takes its default (a form cannot carry a JSON null).

Routes that read a key themselves (LibreTranslate's `/translate`, `/detect`) declare their `security` and
statuses in `openapi_extra` / `responses`, with the scheme names exported here.
"""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from serving.protocol import ErrorEnvelope
from serving.routes import deps

__all__ = ["BEARER", "API_KEY_HEADER", "SECURITY_SCHEMES", "document_api", "key_security", "route_errors"]

BEARER = "bearer"
API_KEY_HEADER = "apiKey"
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    BEARER: {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>`"},
    API_KEY_HEADER: {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The same key."},
}

_ENVELOPE_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
_DESCRIPTIONS = {
    400: "The body is not valid JSON, or not a readable form",
    401: "No API key, or an unknown one",
    403: "The key lacks the scope this route needs",
    404: "No such resource (or not one this key may see)",
    413: "The body is over NOTESTUDIO_MAX_BODY_BYTES, or an image over its pixel limit",
    422: "A field is invalid: `param` names it",
    429: "Over the key's rate limit (or its image slots): retry after `Retry-After` seconds",
    503: "A model this needs is not available: the message says how to add it",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}}
#: Services that may load a model when first used (`ModelError`: 503 with the fix).
_MODEL_SERVICES = frozenset(
    {
        deps.get_copy,
        deps.get_moderation,
        deps.get_images,
        deps.get_videos,
        deps.get_translation,
        deps.get_tryon,
        deps.get_frames,
    }
)
_REQUIRE_CODE = deps.require("admin").__code__  # every `require(scope)` dependency runs this code
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
_NULL = {"type": "null"}


def key_security(scope: str | None = None) -> list[dict[str, list[str]]]:
    """The `security` of an operation: the bearer scheme or the `X-API-Key` header, holding `scope` if given."""
    roles = [scope] if scope else []
    return [{BEARER: roles}, {API_KEY_HEADER: roles}]


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _has_params(dependant: Dependant) -> bool:
    own = dependant.path_params or dependant.query_params or dependant.header_params or dependant.cookie_params
    return bool(own) or any(_has_params(sub) for sub in dependant.dependencies)


def _api_routes(app: FastAPI) -> list[Any]:
    """The API routes of `app`, each with its effective path, dependencies and body (as the document has them)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before included routers were kept whole: their routes are in app.routes
        return [route for route in app.routes if isinstance(route, APIRoute)]
    return [context for context in iter_route_contexts(app.routes) if isinstance(context.original_route, APIRoute)]


def _key_scope(route: APIRoute) -> tuple[bool, str | None]:
    """(whether the route reads an API key through `deps`, the scope it demands: None for any key)."""
    keyed, scope = False, None
    for call in _calls(route.dependant):
        if call is deps.any_key:
            keyed = True
        elif getattr(call, "__code__", None) is _REQUIRE_CODE:
            keyed, scope = True, inspect.getclosurevars(call).nonlocals["scope"]
    return keyed, scope


def route_errors(route: APIRoute, method: str) -> set[int]:
    """The error statuses `route` may answer with the envelope, from its dependencies, parameters and body."""
    keyed, scope = _key_scope(route)
    has_body = route.body_field is not None or "requestBody" in (route.openapi_extra or {})
    statuses: set[int] = set()
    if has_body:
        statuses.add(400)
    if has_body or method in _BODY_METHODS:
        statuses.add(413)
    if route.body_field is not None or _has_params(route.dependant):
        statuses.add(422)
    if route.dependant.path_params:
        statuses.add(404)
    if keyed:
        statuses |= {401, 429}
    if scope is not None:
        statuses.add(403)
    if any(call in _MODEL_SERVICES for call in _calls(route.dependant)):
        statuses.add(503)
    return statuses


def _error_response(status: int, current: dict[str, Any] | None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": (current or {}).get("description") or _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": dict(_ENVELOPE_REF)}},
    }
    if status == 429:
        response["headers"] = _RETRY_AFTER
    return response


def _is_fastapi_422(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref", "").endswith("/HTTPValidationError")


def _inlined(node: Any, schemas: dict[str, Any], depth: int = 0) -> Any:
    """`node` with each `$ref` to a component replaced by a copy of it (form bodies are flat: a few levels)."""
    if isinstance(node, list):
        return [_inlined(item, schemas, depth) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref", "")
    if ref.startswith("#/components/schemas/") and depth < 8:
        rest = {key: value for key, value in node.items() if key != "$ref"}
        return _inlined({**copy.deepcopy(schemas[ref.rsplit("/", 1)[1]]), **rest}, schemas, depth + 1)
    return {key: _inlined(value, schemas, depth) for key, value in node.items()}


def _never_null(field: dict[str, Any]) -> dict[str, Any]:
    """A form field's schema without its `null` alternative (and a `null` default)."""
    variants = field.get("anyOf", [])
    if _NULL in variants:
        kept = [variant for variant in variants if variant != _NULL]
        field = {key: value for key, value in field.items() if key != "anyOf"}
        field.update(kept[0] if len(kept) == 1 else {"anyOf": kept})
    if "default" in field and field["default"] is None:
        field = {key: value for key, value in field.items() if key != "default"}
    return field


def _form_schema(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    form = _inlined(schema, schemas)
    for part in (form, *form.get("allOf", [])):
        part["properties"] = {name: _never_null(field) for name, field in part.get("properties", {}).items()}
    return form


def _complete(app: FastAPI, spec: dict[str, Any]) -> dict[str, Any]:
    components = spec.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    schemas = components.setdefault("schemas", {})
    if "ErrorEnvelope" not in schemas:
        envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(envelope.pop("$defs", {}), ErrorEnvelope=envelope)
    for route in _api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods:
            operation = spec["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            keyed, scope = _key_scope(route)
            if keyed:
                operation["security"] = key_security(scope)
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                if media_type in _FORMS and "schema" in content:
                    content["schema"] = _form_schema(content["schema"], schemas)
            responses = operation.setdefault("responses", {})
            for status in sorted(route_errors(route, method)):
                current = responses.get(str(status))
                if current is None or _is_fastapi_422(current):
                    responses[str(status)] = _error_response(status, current)
                elif status == 429 and "headers" not in current:
                    current["headers"] = _RETRY_AFTER
    if "/HTTPValidationError" not in json.dumps(spec["paths"]):  # FastAPI's 422 body, now unused
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return spec


def document_api(app: FastAPI) -> None:
    """`app.openapi()` returns the completed document (built once, on first use)."""

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _complete(app, generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
