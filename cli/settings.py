"""The CLI's settings: the service's own `Settings` (environment, `NOTESTUDIO_` prefix) plus a command's flags.

Commands build their capability through `serving.services.build_services`, the factory the server uses,
so `notestudio copy` writes with the same writer and checks with the same moderator as `POST /v1/copy/notes`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cli_services"]


def cli_services(**overrides: Any):
    """Services built from the environment's settings with the non-None `overrides` applied."""
    from serving.services import build_services
    from serving.settings import Settings

    return build_services(Settings(**{k: v for k, v in overrides.items() if v is not None}))
