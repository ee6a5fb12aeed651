"""Typed service settings, single-sourced: environment (`NOTESTUDIO_` prefix), Serve YAML `args`, CLI flags.

Secrets have no working default: API keys come from `NOTESTUDIO_API_KEYS`; without any, dev mode makes a
random admin key at start and prints it, and production (`NOTESTUDIO_DEV_MODE=false`) refuses to start.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from common.netguard import parse_allow

__all__ = ["Settings", "SCOPES", "parse_api_keys", "generate_api_key"]

#: Scopes an API key can hold; `admin` implies every other scope.
SCOPES = ("merchant", "platform", "admin")
_MIN_KEY_LENGTH = 16


def generate_api_key() -> str:
    """A random key with a readable prefix (`ns-` + 32 url-safe characters)."""
    return "ns-" + secrets.token_urlsafe(24)


def parse_api_keys(raw: str) -> dict[str, frozenset[str]]:
    """Parse `KEY:SCOPE[+SCOPE],KEY:SCOPE` into key -> scopes.

    Raises:
        ValueError: naming the malformed entry (keys themselves are never echoed back in full).
    """
    keys: dict[str, frozenset[str]] = {}
    for index, entry in enumerate(part.strip() for part in raw.split(",")):
        if not entry:
            continue
        key, sep, scopes = entry.rpartition(":")
        if not sep or not key:
            raise ValueError(f"api_keys entry #{index + 1} must look like KEY:SCOPE[+SCOPE]")
        if len(key) < _MIN_KEY_LENGTH:
            raise ValueError(f"api_keys entry #{index + 1}: key is shorter than {_MIN_KEY_LENGTH} characters")
        names = frozenset(s.strip() for s in scopes.split("+") if s.strip())
        unknown = names - set(SCOPES)
        if not names or unknown:
            raise ValueError(f"api_keys entry #{index + 1}: scopes must be among {list(SCOPES)}, got {sorted(names)}")
        keys[key] = names
    return keys


class Settings(BaseSettings):
    """Everything the service can be told. Field docs are shown by `notestudio serve --help` and the README."""

    model_config = SettingsConfigDict(env_prefix="NOTESTUDIO_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address the HTTP proxy binds to.")
    port: int = Field(8000, ge=1, le=65535, description="HTTP port.")
    data_dir: Path = Field(Path("var"), description="Database, job artifacts and the dev key live here.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite:///<data_dir>/notestudio.db.")
    models: Path | None = Field(None, description="Model registry YAML (default: the embedded one).")
    api_keys: str = Field("", description="Comma-separated KEY:SCOPE[+SCOPE] entries; scopes merchant/platform/admin.")
    dev_mode: bool = Field(True, description="Without api_keys, generate and print an admin key at start.")
    dev_key: str | None = Field(None, description="Set by the launcher: the dev key generated for this run.")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Largest request body accepted (413 above).")
    max_request_pixels: int = Field(
        80_000_000,
        ge=1_000_000,
        description="Most pixels one request may have decoded, all its images together, read from their headers "
        "before decoding (413 above; each image is also limited to 40 MP).",
    )
    image_concurrency_per_key: int = Field(
        4,
        ge=0,
        description="Requests that decode images (moderation images, covers, cut-outs, try-on photos, videos) of "
        "one API key in flight at once per ingress replica; 429 beyond; 0 disables.",
    )
    rate_limit_per_minute: int = Field(1200, ge=0, description="Requests per minute per API key; 0 disables.")
    job_workers: int = Field(2, ge=1, le=64, description="Threads per replica that run long jobs.")
    job_heartbeat_s: float = Field(2.0, gt=0, description="How often a running job's heartbeat is written.")
    job_stale_after_s: float = Field(30.0, gt=0, description="A running job silent this long is recovered.")
    job_max_attempts: int = Field(2, ge=1, le=10, description="Runs of a job before a lost worker fails it.")
    webhook_max_attempts: int = Field(5, ge=1, le=20, description="Deliveries tried per webhook.")
    webhook_backoff_s: float = Field(
        1.0, gt=0, description="Retry n waits between half and all of this x 2^(n-1) (jittered)."
    )
    webhook_secret: str | None = Field(None, description="Signs webhook bodies (X-NoteStudio-Signature, HMAC-SHA256).")
    webhook_concurrency: int = Field(
        4, ge=1, le=64, description="Webhook deliveries in flight at once per replica (waiting retries hold none)."
    )
    webhook_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Internal webhook targets let through the SSRF guard: CIDRs, addresses or host names, comma-"
        "separated (e.g. 10.20.0.0/16,hooks.corp); everything else must resolve to public addresses only.",
    )
    studio: bool = Field(True, description="Mount the Gradio studio at /studio.")
    fast_ingress: bool = Field(
        True,
        description="Ray Serve's HAProxy ingress and throughput-optimized data plane (RAY_SERVE_ENABLE_HA_PROXY, "
        "RAY_SERVE_THROUGHPUT_OPTIMIZED) for clusters started by `notestudio serve`.",
    )
    moderation_deployment: bool = Field(
        False,
        description="Run moderation in its own Ray Serve deployment (batched across requests, scaled on its own); "
        "off runs it inside each ingress replica, one hop less (faster on a single machine).",
    )
    classifier_file: Path | None = Field(
        None,
        description="The linear moderation classifier (default <data_dir>/models/moderation-linear.pkl; trained "
        "there once, under a file lock, when missing).",
    )
    moderation_classifier: str | None = Field(
        None, description="Registry model (task classification) to use instead of the linear classifier."
    )
    hosted_models: list[str] = Field(
        default_factory=list,
        description="Registry models served by their own ModelHost deployment (GPU placement).",
    )
    copy_model: str | None = Field(
        None,
        description="Registry text-generation model that writes note copy (transformers, vllm or openai engine); "
        "unset uses the template engine (no weights).",
    )
    image_model: str | None = Field(
        None,
        description="Registry text-to-image model (diffusers) for scene requests (restyle, background, outpaint, "
        "variations); unset, covers are made by the composer alone and scene requests answer 503 with the fix.",
    )

    video_model: str | None = Field(
        None,
        description="Registry image-to-video model (diffusers: Wan, CogVideoX, SVD) for `engine: i2v` videos; unset, "
        "videos are slideshows and i2v requests answer 503 with the fix.",
    )

    translation_models: list[str] = Field(
        default_factory=list,
        description="Registry seq2seq models that translate (Marian, M2M100, NLLB; transformers or ctranslate2), "
        "in order of preference; each model's options say which pairs it serves. zh-Hans <-> zh-Hant needs none.",
    )
    translation_llm: bool = Field(
        True, description="Let the copy LLM (copy_model) translate pairs no seq2seq model serves."
    )
    translate_char_limit: int = Field(
        5000, ge=-1, description="Most characters in one translation request (all texts together); -1 for none."
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        """Replicas may run in another working directory: settle the path where it was configured."""
        return value.expanduser().resolve()

    @field_validator("webhook_allow", mode="before")
    @classmethod
    def _split_allow(cls, value: Any) -> Any:
        """`a,b` or a JSON list (the environment's forms), or a list; each entry must be a CIDR, an address or a
        host name (a bad one fails the settings, naming it)."""
        if isinstance(value, str):
            value = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
        if isinstance(value, list):
            value = [entry.strip() if isinstance(entry, str) else entry for entry in value]
            value = [entry for entry in value if entry != ""]
            parse_allow(entry for entry in value if isinstance(entry, str))
        return value

    @field_validator("api_keys")
    @classmethod
    def _check_keys(cls, value: str) -> str:
        parse_api_keys(value)
        return value

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'notestudio.db'}"

    @property
    def classifier_path(self) -> Path:
        """Where the linear moderation classifier lives (trained there once when missing)."""
        return self.classifier_file or self.data_dir / "models" / "moderation-linear.pkl"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    def key_scopes(self) -> dict[str, frozenset[str]]:
        """Configured keys plus the dev key of this run, if any."""
        keys = parse_api_keys(self.api_keys)
        if self.dev_key:
            keys[self.dev_key] = frozenset({"admin"})
        return keys

    def with_dev_key(self) -> Settings:
        """Return settings that can authenticate someone: configured keys, or a fresh dev key.

        Raises:
            ValueError: production mode (`dev_mode=false`) without any configured key.
        """
        if self.api_keys or self.dev_key:
            return self
        if not self.dev_mode:
            raise ValueError("no API keys configured: set NOTESTUDIO_API_KEYS=KEY:SCOPE,... (dev_mode is off)")
        return self.model_copy(update={"dev_key": generate_api_key()})

    def to_args(self) -> dict[str, Any]:
        """JSON-safe dict for Serve `args` and `.bind()` (settings travel to replicas this way)."""
        return self.model_dump(mode="json", exclude_none=True)
