"""The `Boucle-Signature` of a delivery: `t=<unix seconds>` and one `v1=<hex HMAC-SHA256 of
"<t>.<body>">` for each secret that signs it, the current one first. After a rotation the
secret replaced signs too, until its grace period ends, so that a receiver that still checks
with it, or already with the new one, accepts the delivery either way (as Stripe does)."""

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from app.models import Webhook

SIGNATURE_HEADER = "Boucle-Signature"


def sign(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """The header value for `body`, the exact bytes sent, signed at `timestamp` with each of
    `secrets` in turn."""
    signed = f"{timestamp}.".encode() + body
    digests = (hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets)
    return ",".join([f"t={timestamp}", *(f"v1={digest}" for digest in digests)])


def previous_secret_expiry(webhook: Webhook, now: datetime) -> datetime | None:
    """Until when the secret the last rotation replaced signs beside the current one, or None
    when it signs no more (or there is none)."""
    until = webhook.previous_secret_until
    return until if webhook.previous_secret is not None and until and until > now else None


def signing_secrets(webhook: Webhook, now: datetime) -> tuple[str, ...]:
    """The secrets that sign a delivery sent `now`: the current one, then the one it replaced
    while its grace period lasts."""
    if webhook.previous_secret is not None and previous_secret_expiry(webhook, now):
        return (webhook.secret, webhook.previous_secret)
    return (webhook.secret,)
