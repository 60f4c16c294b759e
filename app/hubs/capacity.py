"""A hub's settings (its capacity, whole and per material family, its pooling thresholds, and
what of it the open data shows) and the capacity check an intake passes."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.hubs.access import load_hub
from app.hubs.pooling import refresh_thresholds
from app.hubs.repository import LotBalance, family_totals, hub_limits, lot_balances, thresholds_of
from app.hubs.schemas import (
    Capacity,
    FamilyLimit,
    Hub,
    HubSettings,
    PoolingThreshold,
    PublicStock,
)
from app.kit.geo import Point
from app.kit.principal import Principal
from app.kit.problems import Conflict, FieldError, ValidationFailed
from app.models import HubLimit, HubPoolingThreshold, HubPublication, Site

_EPSILON = 1e-6


async def hub_view(session: AsyncSession, hub: Site) -> Hub:
    limits = await hub_limits(session, hub.id)
    thresholds = await thresholds_of(session, hub.id)
    whole = next((limit for limit in limits if limit.material == ""), None)
    families = [
        FamilyLimit(material=limit.material, t=limit.max_t, m3=limit.max_m3)
        for limit in limits
        if limit.material != ""
    ]
    capacity = (
        Capacity(
            t=whole.max_t if whole else None,
            m3=whole.max_m3 if whole else None,
            families=families,
        )
        if limits
        else None
    )
    publication = await session.get(HubPublication, hub.id)
    return Hub(
        id=hub.id,
        name=hub.name,
        kind=hub.kind,
        location=Point.model_validate(hub.location),
        capacity=capacity,
        public=publication is not None and publication.public,
        public_stock=PublicStock(publication.stock if publication else PublicStock.rounded),
        pooling=[
            PoolingThreshold(material=t.material, threshold_t=t.threshold_t, radius_km=t.radius_km)
            for t in thresholds
        ],
    )


def _limits(capacity: Capacity | None) -> list[tuple[str, float | None, float | None]]:
    if capacity is None:
        return []
    limits = [(f.material, f.t, f.m3) for f in capacity.families]
    if capacity.t is not None or capacity.m3 is not None:
        limits.insert(0, ("", capacity.t, capacity.m3))
    return limits


async def set_hub_settings(
    session: AsyncSession,
    principal: Principal,
    hub_id: uuid.UUID,
    data: HubSettings,
    if_match: str | None,
) -> tuple[Hub, int]:
    """Replaces the capacity, the pooling thresholds and the publication; answers the hub and
    its new version.
    A capacity below what the hub holds already is refused: it would leave the hub over
    capacity."""
    hub = await load_hub(session, principal, hub_id, lock=True, if_match=if_match)
    balances = await lot_balances(session, hub.id)
    for family, max_t, max_m3 in _limits(data.capacity):
        problem = _over_capacity(balances, family, max_t, max_m3, 0.0, 0.0)
        if problem is not None:
            raise Conflict(f"{problem} Nothing was changed.")
    await session.execute(delete(HubLimit).where(HubLimit.hub_id == hub.id))
    for family, max_t, max_m3 in _limits(data.capacity):
        session.add(HubLimit(hub_id=hub.id, material=family, max_t=max_t, max_m3=max_m3))
    publication = await session.get(HubPublication, hub.id) or HubPublication(hub_id=hub.id)
    publication.public, publication.stock = data.public, data.public_stock.value
    session.add(publication)
    kept = {t.material: t for t in await thresholds_of(session, hub.id)}
    wanted = {p.material: p for p in data.pooling}
    for material, old in kept.items():
        if material not in wanted:
            await session.delete(old)
    for material, rule in wanted.items():
        threshold = kept.get(material)
        if threshold is None:
            session.add(
                HubPoolingThreshold(
                    hub_id=hub.id,
                    material=material,
                    threshold_t=rule.threshold_t,
                    radius_km=rule.radius_km,
                )
            )
        elif (threshold.threshold_t, threshold.radius_km) != (rule.threshold_t, rule.radius_km):
            # A new rule is a new question: it fires again if the pool already reaches it.
            threshold.threshold_t, threshold.radius_km = rule.threshold_t, rule.radius_km
            threshold.reached_at = None
    # The settings are part of the hub: its version (the ETag) moves with them.
    hub.updated_at = datetime.now(UTC)
    await session.flush()
    await refresh_thresholds(session, [hub.id])
    view = await hub_view(session, hub)
    await session.flush()
    return view, hub.version


def _over_capacity(
    balances: list[LotBalance],
    family: str,
    max_t: float | None,
    max_m3: float | None,
    add_kg: float,
    add_m3: float,
) -> str | None:
    """What is wrong when the family's stock plus an addition would pass a limit."""
    name = f"material family {family}" if family else "the hub"
    mass_kg, volume = family_totals(balances, family)
    mass_t, volume = (mass_kg + add_kg) / 1000, volume + add_m3
    if max_t is not None and mass_t > max_t + _EPSILON:
        return f"The capacity of {name} is {max_t:g} t; this would make it {mass_t:g} t."
    if max_m3 is not None and volume > max_m3 + _EPSILON:
        return f"The capacity of {name} is {max_m3:g} m3; this would make it {volume:g} m3."
    return None


async def check_intake_capacity(
    session: AsyncSession,
    hub: Site,
    balances: list[LotBalance],
    material: str,
    mass_kg: float | None,
    volume_m3: float | None,
) -> None:
    """Refuses an intake that would pass a capacity of the hub or of a family the material
    falls in, or that does not say the measure a capacity counts. `balances` are read under
    the hub's lock."""
    limits = [x for x in await hub_limits(session, hub.id) if material.startswith(x.material)]
    counts = {"mass_kg": "tonnes", "volume_m3": "m3"}
    missing = {
        measure
        for limit in limits
        for measure, limited, measured in (
            ("mass_kg", limit.max_t, mass_kg),
            ("volume_m3", limit.max_m3, volume_m3),
        )
        if limited is not None and measured is None
    }
    if missing:
        raise ValidationFailed(
            [
                FieldError(
                    measure,
                    "required_by_capacity",
                    f"This hub's capacity counts {counts[measure]}; give the intake's {measure}.",
                )
                for measure in sorted(missing)
            ]
        )
    for limit in limits:
        problem = _over_capacity(
            balances, limit.material, limit.max_t, limit.max_m3, mass_kg or 0.0, volume_m3 or 0.0
        )
        if problem is not None:
            raise Conflict(f"{problem} Nothing was recorded.")
