from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """The one settings object. Every value comes from a `BOUCLE_*` environment variable."""

    model_config = SettingsConfigDict(env_prefix="BOUCLE_", env_file=None)

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/boucle"
    db_pool_size: int = 10
    admin_token: SecretStr | None = None
    cors_origins: list[str] = Field(default_factory=list)
    # Requests bodies above this size answer 413 before any parsing.
    max_body_bytes: int = 1_000_000
    # Locations must lie within this distance of the service area (the Brussels region outline
    # loaded as reference data); 0 turns the check off.
    service_area_buffer_km: float = 50.0
    page_size_default: int = 50
    page_size_max: int = 500
    idempotency_ttl_hours: int = 24
    shared_dir: Path = PROJECT_ROOT.parent / "shared"
    # Webhook URLs that resolve to loopback, private or link-local addresses are refused
    # unless this is on (tests turn it on to receive on a local port).
    webhooks_allow_private_urls: bool = False
    # A failed delivery is tried again after base x 2^(attempts - 1) seconds, for this long.
    webhook_retry_base_seconds: float = 10.0
    webhook_retry_window_hours: float = 24.0
    webhook_timeout_seconds: float = 10.0


@lru_cache
def get_settings() -> Settings:
    return Settings()
