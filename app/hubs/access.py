"""Which yards and hubs an operator may read and change."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.owned import OwnedRows
from app.kit.principal import Principal
from app.kit.problems import Conflict
from app.models import Site

HUB_KINDS = ("yard", "hub")
# The sites, read as hubs: another organization's answers as missing, to read or to change.
HUBS = OwnedRows(Site, "hub")


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
        site = await HUBS.writable(session, principal, hub_id, if_match)
    else:
        site = await HUBS.readable(session, principal, hub_id)
    if site.kind not in HUB_KINDS:
        raise Conflict(
            f"This site is a {site.kind}: stock is kept at sites of kind yard or hub.",
            kind=site.kind,
        )
    return site
