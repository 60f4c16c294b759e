"""Which yards and hubs an operator may read and change."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.owned import load_readable, load_writable
from app.kit.principal import Principal
from app.kit.problems import Conflict
from app.models import Site

HUB_KINDS = ("yard", "hub")


async def load_hub(
    session: AsyncSession,
    principal: Principal,
    hub_id: uuid.UUID,
    *,
    lock: bool = False,
    if_match: str | None = None,
) -> Site:
    """One of the organization's yards or hubs. With `lock`, the hub's row is locked for the
    transaction: every change of its stock or settings holds it (see app/quantity_locks.py)."""
    principal.require_role("hub_operator")
    if lock:
        site = await load_writable(
            session, Site, hub_id, principal, public=False, noun="hub", if_match=if_match
        )
    else:
        site = await load_readable(session, Site, hub_id, principal, public=False, noun="hub")
    if site.kind not in HUB_KINDS:
        raise Conflict(
            f"This site is a {site.kind}: stock is kept at sites of kind yard or hub.",
            kind=site.kind,
        )
    return site
