import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.kit.host_entries import parse_allowed_host, parse_private_host

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """The one settings object. Every value comes from a `BOUCLE_*` environment variable."""

    model_config = SettingsConfigDict(env_prefix="BOUCLE_", env_file=None)

    # The running service's connection (API and workers), as the application's role
    # (app.database_roles): never a superuser, and refused if it is one.
    database_url: str = "postgresql+asyncpg://boucle_app@127.0.0.1:5432/boucle"
    # The owner's, for the migrations and the loaders of `python -m app.cli`; when unset, they
    # use `database_url`, and a role that may not change the schema stops them.
    migration_database_url: str | None = None
    # The open data's (/ogc), as the role that can only read the `ogc` views; when unset, /ogc
    # answers 503: it never falls back to a role that reads more.
    open_data_database_url: str | None = None
    # Each API process (and the worker) keeps up to twice this many connections.
    # Connections each process keeps open once it has needed them: more requests at once than
    # this take a connection of the overflow (half as many again), which is closed on return
    # whenever the pool is full, and a new connection costs more than most requests (a new
    # server process, TLS, authentication, PostGIS loaded again).
    db_pool_size: int = 20
    # How long a request waits for a connection when all are busy before it answers 503.
    db_pool_timeout_seconds: float = Field(default=30, gt=0)
    # API processes `python -m app.serve` starts (uvicorn's workers); 0: one per core this
    # process may run on.
    api_processes: int = Field(default=0, ge=0)
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
    # A request that holds its Idempotency-Key longer than this is taken for dead (its process
    # crashed): the same request sent again runs. Longer than any request takes.
    idempotency_lock_seconds: float = 300.0
    # Active (not revoked) API keys one organization may have at once.
    max_api_keys_per_organization: int = 10
    # Requests per window that each API key (and the admin token) may send to /v1, and each
    # client address to /v1 without a valid key and to /ogc; past it, 429 until the window
    # ends. 1200 a minute is 20 a second for a whole minute: far more than a person at the map
    # or an integration syncing its listings page by page (500 a page) ever sends, while a
    # client looping without backing off is stopped within a minute, before it takes the API
    # processes from everyone else. 0 turns the limits off.
    rate_limit_requests: int = Field(default=1200, ge=0)
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    # Requests of a caller's window that an API process may count ahead and serve without a
    # round trip to the database (app/gateway/grants.py); 0: every request asks.
    rate_limit_reserve: int = Field(default=10, ge=0)
    shared_dir: Path = PROJECT_ROOT.parent / "shared"
    # Webhook URLs that resolve to loopback, private, link-local or reserved addresses are
    # refused, but for these destinations: each an address (any port) or `address:port` (that
    # port only), never a name. `make run` names its README receiver, the tests their loopback
    # receivers. A JSON list in the environment.
    webhook_private_hosts: list[str] = Field(default_factory=list)
    # When not empty, webhooks go to these hosts only (a name or an address, or `host:port` for
    # one port of it), checked when subscribing and at each attempt: behind an egress proxy, or
    # to keep tests on loopback. A JSON list in the environment.
    webhook_allowed_hosts: list[str] = Field(default_factory=list)
    # A failed delivery is tried again after base x 2^(attempts - 1) seconds, for this long.
    webhook_retry_base_seconds: float = 10.0
    webhook_retry_window_hours: float = 24.0
    # One deadline for a whole delivery, from connecting to the last byte of the answer, of
    # which at most `webhook_max_response_bytes` are read.
    webhook_timeout_seconds: float = 10.0
    webhook_max_response_bytes: int = 65_536
    webhook_max_subscriptions: int = 20
    # After a rotation, the secret replaced signs each delivery beside the new one for this
    # long (a rotation may ask for less, not more).
    webhook_secret_grace_hours: float = Field(default=24.0, ge=0)

    # The job workers (`python -m app.worker`): each process serves the `plans` queue (route
    # plans, matching runs) and the `events` queue (webhook deliveries, events of a write,
    # sweeps) with a concurrency of its own.
    worker_plan_concurrency: int = 2
    # The cores the plan slots share, each slot an equal part (at least one engine process):
    # 0 is every core the worker may run on. Give each of several workers on one machine its
    # part of the machine's cores.
    worker_plan_cores: int = Field(default=0, ge=0)
    worker_event_concurrency: int = 10
    # A worker beats every `worker_heartbeat_seconds`; the jobs of a worker silent for
    # `worker_stalled_after_seconds` are retried by the others, checked that often.
    worker_heartbeat_seconds: float = 10.0
    worker_stalled_after_seconds: float = 30.0
    worker_stalled_check_seconds: float = 10.0
    # On SIGTERM, running jobs get this long to finish before they are stopped and queued again.
    worker_shutdown_grace_seconds: float = 20.0
    # How often a job is started before it is failed for good; an interrupted one is started
    # again after base x 2^(attempts - 1) seconds, with jitter.
    job_max_attempts: int = 3
    job_retry_base_seconds: float = 5.0
    # A planner process that grows past this much memory is stopped alone, and reported.
    planner_memory_limit_mb: int = 4096

    # What one organization may queue.
    plan_max_shipments: int = 500
    plan_max_vehicles: int = 100
    plan_max_profiles: int = 8
    max_active_jobs_per_organization: int = 2
    # The search time of the plan of a slot's bookings at its cut-off.
    delivery_cutoff_plan_s: float = 30.0

    @property
    def migration_url(self) -> str:
        return self.migration_database_url or self.database_url

    @property
    def api_process_count(self) -> int:
        return self.api_processes or len(os.sched_getaffinity(0))

    @field_validator("webhook_allowed_hosts")
    @classmethod
    def _hosts_or_host_ports(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            parse_allowed_host(host)  # a malformed entry stops the start, not each delivery
        return hosts

    @field_validator("webhook_private_hosts")
    @classmethod
    def _addresses_or_address_ports(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            parse_private_host(host)
        return hosts


@lru_cache
def get_settings() -> Settings:
    return Settings()


async def app_settings(request: Request) -> Settings:
    """The settings the app was created with (not re-read from the environment)."""
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(app_settings)]
