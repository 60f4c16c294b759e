"""The service's settings on a database of the testbed: each part connects as its role, the
admin token is known, webhooks stay on this machine."""

from typing import Any

from app.database_roles import APPLICATION, OPEN_DATA, OWNER
from app.settings import Settings
from testbed.database import as_role

ADMIN_TOKEN = "test-admin-token"

# The tests' receivers listen on loopback, on ports of their own: the one private destination
# the suite's app delivers to (`localhost` may resolve to ::1 too, on some machines).
LOOPBACK_RECEIVERS = ["127.0.0.1", "::1"]

# The suite sends thousands of requests within minutes from one address and with one admin
# token, into counters that its apps share (the fuzzer's key alone sends thousands): the limit
# stays on, so that every answer goes through it, but this high. tests/test_rate_limits.py
# sets low ones.
SUITE_RATE_LIMIT = 1_000_000


def settings_for(database_url: str, **overrides: Any) -> Settings:
    """The service's settings on this database, each part connecting as its role."""
    return Settings(
        database_url=as_role(database_url, APPLICATION),
        migration_database_url=as_role(database_url, OWNER),
        open_data_database_url=as_role(database_url, OPEN_DATA),
        admin_token=ADMIN_TOKEN,
        **{
            # Nothing a test does sends a webhook past this machine's loopback.
            "webhook_allowed_hosts": ["127.0.0.1", "localhost"],
            "rate_limit_requests": SUITE_RATE_LIMIT,
            # The tests' delivery rounds are small: their cut-off's plan searches 2 s.
            "delivery_cutoff_plan_s": 2,
            **overrides,
        },
    )
