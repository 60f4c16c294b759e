"""Pooling: whether a hub's stock and what others offer nearby together reach a threshold the
operator set, and the `hub.threshold_reached` event when a pool crosses it."""

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.hubs.access import load_hub
from app.hubs.repository import (
    LotBalance,
    family_totals,
    hubs_pooling_near,
    hubs_with_thresholds,
    lot_balances,
    offered_near,
    thresholds_of,
)
from app.hubs.schemas import Pooling, PoolingFamily
from app.kit.principal import Principal
from app.materials.service import check_request_material
from app.models import HubPoolingThreshold, Offer, Site
from app.webhooks.outbox import emit

_EPSILON = 1e-6


async def _pool(
    session: AsyncSession,
    hub: Site,
    balances: list[LotBalance],
    family: str,
    radius_km: float,
    threshold: HubPoolingThreshold | None,
) -> PoolingFamily:
    stock_t = family_totals(balances, family)[0] / 1000
    nearby = await offered_near(session, hub, family, radius_km)
    total_t = stock_t + nearby.mass_kg / 1000
    threshold_t = threshold.threshold_t if threshold else None
    return PoolingFamily(
        material=family,
        stock_t=round(stock_t, 3),
        offered_nearby_t=round(nearby.mass_kg / 1000, 3),
        offers_nearby=nearby.offers,
        total_t=round(total_t, 3),
        radius_km=radius_km,
        threshold_t=threshold_t,
        reached=threshold_t is not None and total_t + _EPSILON >= threshold_t,
        reached_at=threshold.reached_at if threshold else None,
    )


async def hub_pooling(
    session: AsyncSession,
    principal: Principal,
    hub_id: uuid.UUID,
    material: str | None,
    radius_km: float,
) -> Pooling:
    """Per material family: the thresholds the operator set, and the sub-chapters in stock
    without one (measured within `radius_km`). `material` keeps the families it falls in or
    that fall in it."""
    hub = await load_hub(session, principal, hub_id)
    if material is not None:
        material = await check_request_material(session, material)
    balances = await lot_balances(session, hub.id)
    thresholds = await thresholds_of(session, hub.id)
    families: list[tuple[str, float, HubPoolingThreshold | None]] = [
        (t.material, t.radius_km, t) for t in thresholds
    ]
    for sub_chapter in sorted({b.lot.material[:4] for b in balances if b.stock > 0}):
        if not any(sub_chapter.startswith(t.material) for t in thresholds):
            families.append((sub_chapter, radius_km, None))
    if material is not None:
        families = [f for f in families if f[0].startswith(material) or material.startswith(f[0])]
        if not families:
            families = [(material, radius_km, None)]
    return Pooling(
        hub_id=hub.id,
        families=[await _pool(session, hub, balances, *family) for family in families],
    )


async def refresh_thresholds(session: AsyncSession, hub_ids: list[uuid.UUID]) -> int:
    """Re-measures the pooling thresholds of these hubs and tells the operator, with
    `hub.threshold_reached`, of each one the pool has just crossed. Under again, a threshold
    is re-armed. The caller commits; returns how many fired."""
    fired = 0
    for hub_id in sorted(set(hub_ids)):
        thresholds = await thresholds_of(session, hub_id, lock=True)
        if not thresholds:
            continue
        hub = await session.get_one(Site, hub_id)
        balances = await lot_balances(session, hub_id)
        for threshold in thresholds:
            pool = await _pool(
                session, hub, balances, threshold.material, threshold.radius_km, threshold
            )
            if pool.reached and threshold.reached_at is None:
                threshold.reached_at = datetime.now(UTC)
                fired += 1
                await emit(
                    session,
                    {hub.organization_id},
                    "hub.threshold_reached",
                    {
                        "hub_id": str(hub.id),
                        "hub_name": hub.name,
                        **pool.model_dump(mode="json", exclude={"reached", "reached_at"}),
                    },
                    # A pool crosses again after falling back under: each crossing is its
                    # own fact, told apart by the moment it was measured.
                    fact=(hub.id, threshold.material, threshold.reached_at.isoformat()),
                )
            elif not pool.reached and threshold.reached_at is not None:
                threshold.reached_at = None
    await session.flush()
    return fired


async def refresh_thresholds_near(session: AsyncSession, offer: Offer) -> None:
    """A new offer may carry a nearby pool over its threshold."""
    await session.flush()
    await refresh_thresholds(session, await hubs_pooling_near(session, offer))


async def refresh_all_thresholds(session: AsyncSession) -> int:
    """The periodic sweep: catches what changes a pool other than movements and new offers
    (reservations, patched or expired offers)."""
    return await refresh_thresholds(session, await hubs_with_thresholds(session))
