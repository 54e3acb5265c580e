"""Settings of the API server (pydantic-settings: constructor arguments, then environment).

Environment variables: ``ARTIFACTS_ROOT``, ``TTT_API_TOKEN``, and ``TTT_<FIELD>`` for the
rest (``TTT_HOST``, ``TTT_PORT``, ``TTT_CORS_ORIGINS`` and ``TTT_ALLOWED_HOSTS``
comma-separated, ...).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# src/ttt/api/settings.py -> repository root (editable install / source checkout).
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DASHBOARD_DIST = REPO_ROOT / "dashboard" / "dist"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class ApiSettings(BaseSettings):
    """Everything ``create_app`` and ``ttt serve`` need."""

    model_config = SettingsConfigDict(env_prefix="TTT_", extra="ignore")

    artifacts_root: Path = Field(
        Path("artifacts"),
        validation_alias=AliasChoices("artifacts_root", "ARTIFACTS_ROOT", "TTT_ARTIFACTS_ROOT"),
        description="Artifact store root: everything served is read from (or written to) here.",
    )
    host: str = Field("127.0.0.1", description="Bind address (loopback unless a token is set).")
    port: int = Field(13579, ge=0, le=65535)
    token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("token", "TTT_API_TOKEN"),
        description="Bearer token required on every /api request when set.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Allowed CORS origins; empty means no CORS at all."
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names the server answers to besides loopback and --host "
        "('name' any port, 'name:port' that port, '*' any host); others get 403.",
    )
    max_body_bytes: int = Field(1 << 20, ge=1, description="Largest accepted request body.")
    dashboard_dist: Path = Field(DEFAULT_DASHBOARD_DIST, description="Built dashboard folder.")
    max_jobs: int = Field(2, ge=1, le=64, description="Jobs running at once (worker processes).")
    corpus_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Extra folders a training corpus may come from (besides the artifact "
        "root); comma-separated in TTT_CORPUS_DIRS. No other path is ever read.",
    )
    job_cancel_grace_s: float = Field(
        10.0, ge=0, description="Seconds a cancelled job may take to stop before it is killed."
    )

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_origins(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [o.strip() for o in v.split(",") if o.strip()]
        return v

    @field_validator("corpus_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [d.strip() for d in v.split(",") if d.strip()]
        return v

    @field_validator("token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, v: Any) -> Any:
        return None if v == "" else v

    def token_value(self) -> str | None:
        return self.token.get_secret_value() if self.token is not None else None


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the usual loopback names."""
    h = host.strip().strip("[]").lower()
    if h in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_bind_security(settings: ApiSettings) -> None:
    """Refuse to serve on a non-loopback address without a token (ValueError)."""
    if not is_loopback(settings.host) and settings.token_value() is None:
        raise ValueError(
            f"refusing to bind {settings.host!r} without a token: anything that can reach this "
            "address could read and write the artifact store. Pass --token (or set "
            "TTT_API_TOKEN), or bind 127.0.0.1."
        )
