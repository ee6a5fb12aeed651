"""CLI error convention: a bad input, config or environment is one line on stderr and exit code 2."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from pydantic import ValidationError

from common.errors import ServiceError
from models.errors import ModelError

__all__ = ["UsageError", "exit_on_errors"]

F = TypeVar("F", bound=Callable[..., Any])


class UsageError(Exception):
    """A problem the user can fix; the message says how."""


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "value"
        return f"invalid setting {where}: {first['msg']}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def exit_on_errors(func: F) -> F:
    """Turn user-fixable errors into `error: ...` + exit 2 instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (UsageError, ModelError, ServiceError, ValidationError, ValueError) as exc:
            typer.secho(f"error: {_one_line(exc)}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
