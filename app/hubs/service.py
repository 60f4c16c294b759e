"""Material yards and hubs: capacity, lots, append-only movements, the offers that put their
stock on the market, and pooling thresholds.

Every movement of a hub runs under a lock on the hub's site row, so two movements of one hub
never read the same stock: a dispatch cannot drive a lot negative and an intake cannot pass
the capacity, however many arrive at once."""

import functools
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.candidates.service import announce_new_offer
from app.errors import Conflict, NotFound, ValidationFailed
from app.hubs.repository import (
    LotBalance,
    family_totals,
    hub_limits,
    lot_balances,
    lot_of_offer,
    offered_near,
    signed_quantity,
)
from app.hubs.schemas import (
    Capacity,
    FamilyLimit,
    FamilyStock,
    Hub,
    HubSettings,
    Lot,
    Movement,
    MovementCreate,
    MovementKind,
    Pooling,
    PoolingFamily,
    PoolingThreshold,
    Stock,
)
from app.kit.geo import Point
from app.kit.ownership import load_readable, load_writable
from app.kit.pagination import PageParams
from app.kit.quantity import mass_and_volume
from app.kit.spatial import geography
from app.materials.service import check_offer_material, check_request_material
from app.models import (
    HubLimit,
    HubLot,
    HubMovement,
    HubPoolingThreshold,
    Match,
    Material,
    MaterialRequest,
    Offer,
    ShipmentRow,
    Site,
)
from app.webhooks.service import emit

HUB_KINDS = ("yard", "hub")
# How far from the hub a shipment may start and still collect from it.
PICKUP_AT_HUB_M = 150
_EPSILON = 1e-6


async def load_hub(
    session: AsyncSession, principal: Principal, hub_id: uuid.UUID, *, lock: bool = False
) -> Site:
    """One of the organization's yards or hubs; locked for the transaction when `lock`."""
    principal.require_role("hub_operator")
    if lock:
        site = await load_writable(session, Site, hub_id, principal, public=False, noun="hub")
    else:
        site = await load_readable(session, Site, hub_id, principal, public=False, noun="hub")
    if site.kind not in HUB_KINDS:
        raise Conflict(
            f"This site is a {site.kind}: stock is kept at sites of kind yard or hub.",
            kind=site.kind,
        )
    return site


# ---- settings: capacity and pooling thresholds ----


async def hub_view(session: AsyncSession, hub: Site) -> Hub:
    limits = await hub_limits(session, hub.id)
    thresholds = await _thresholds(session, hub.id)
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
    return Hub(
        id=hub.id,
        name=hub.name,
        kind=hub.kind,
        location=Point.model_validate(hub.location),
        capacity=capacity,
        pooling=[
            PoolingThreshold(material=t.material, threshold_t=t.threshold_t, radius_km=t.radius_km)
            for t in thresholds
        ],
    )


async def _thresholds(session: AsyncSession, hub_id: uuid.UUID) -> list[HubPoolingThreshold]:
    query = (
        select(HubPoolingThreshold)
        .where(HubPoolingThreshold.hub_id == hub_id)
        .order_by(HubPoolingThreshold.material)
    )
    return list((await session.scalars(query)).all())


def _limits(capacity: Capacity | None) -> list[tuple[str, float | None, float | None]]:
    if capacity is None:
        return []
    limits = [(f.material, f.t, f.m3) for f in capacity.families]
    if capacity.t is not None or capacity.m3 is not None:
        limits.insert(0, ("", capacity.t, capacity.m3))
    return limits


async def set_hub_settings(
    session: AsyncSession, principal: Principal, hub_id: uuid.UUID, data: HubSettings
) -> Hub:
    """Replaces the capacity and the pooling thresholds. A capacity below what the hub holds
    already is refused: it would leave the hub over capacity."""
    hub = await load_hub(session, principal, hub_id, lock=True)
    balances = await lot_balances(session, hub.id)
    for family, max_t, max_m3 in _limits(data.capacity):
        problem = _over_capacity(balances, family, max_t, max_m3, 0.0, 0.0)
        if problem is not None:
            await session.rollback()
            raise Conflict(f"{problem} Nothing was changed.")
    await session.execute(delete(HubLimit).where(HubLimit.hub_id == hub.id))
    for family, max_t, max_m3 in _limits(data.capacity):
        session.add(HubLimit(hub_id=hub.id, material=family, max_t=max_t, max_m3=max_m3))
    kept = {t.material: t for t in await _thresholds(session, hub.id)}
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
    await session.flush()
    await refresh_thresholds(session, [hub.id])
    view = await hub_view(session, hub)
    await session.commit()
    return view


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


# ---- movements ----


async def record_movement(
    session: AsyncSession, principal: Principal, hub_id: uuid.UUID, data: MovementCreate
) -> Movement:
    hub = await load_hub(session, principal, hub_id, lock=True)
    try:
        if data.kind is MovementKind.intake:
            movement, balance = await _intake(session, principal, hub, data)
        else:
            movement, balance = await _dispatch(session, principal, hub, data)
    except Conflict:
        await session.rollback()
        raise
    await _sync_lot_offer(session, balance)
    if data.kind is MovementKind.intake and balance.taken_in == movement.quantity_value:
        # A new lot just went on the market: the requests it can serve hear of it.
        await announce_new_offer(session, await session.get_one(Offer, balance.lot.offer_id))
    await refresh_thresholds(session, [hub.id])
    view = _movement_view(movement, balance.lot, balance.stock)
    await session.commit()
    return view


async def _intake(
    session: AsyncSession, principal: Principal, hub: Site, data: MovementCreate
) -> tuple[HubMovement, LotBalance]:
    _refuse_fields(data, ("match_id", "shipment_id"), "an intake")
    _one_of(data, ("offer_id", "walk_in"), "an intake comes from an offer or a walk-in supplier")
    source: Offer | None = None
    match: Match | None = None
    if data.offer_id is not None:
        source, match = await _reserved_for_hub(session, principal, data.offer_id)
        if data.quantity.unit.value != source.quantity_unit:
            raise ValidationFailed.field(
                "quantity.unit",
                "same_as_offer",
                f"The offer counts in {source.quantity_unit}; give the intake in that unit.",
            )
        if data.quantity.value > match.offer_quantity_value + _EPSILON:
            raise Conflict(
                f"Your accepted match reserved {match.offer_quantity_value:g} "
                f"{source.quantity_unit} of this offer; the intake is "
                f"{data.quantity.value:g}. Nothing was recorded."
            )
    lot = await _lot_by_code(session, hub, data.lot) if data.lot else None
    material = data.material or (source.material if source else None)
    condition = data.condition.value if data.condition else (source.condition if source else None)
    if lot is None:
        if material is None:
            raise ValidationFailed.field(
                "material", "required_for_new_lot", "A new lot needs its 6-digit EWC code."
            )
        if condition is None:
            raise ValidationFailed.field(
                "condition", "required_for_new_lot", "A new lot needs its condition (A, B or C)."
            )
        material = await check_offer_material(session, material)
    else:
        for name, given, known in (
            ("material", material, lot.material),
            ("condition", condition, lot.condition),
            ("quantity.unit", data.quantity.unit.value, lot.unit),
        ):
            if given is not None and given != known:
                raise ValidationFailed.field(
                    name, "same_as_lot", f"Lot {lot.code} is {known}; an intake adds the same."
                )
    mass_kg, volume_m3 = _mass_and_volume(data, lot, source)

    balances = await lot_balances(session, hub.id)
    material_code = lot.material if lot else material
    assert material_code is not None
    for limit in await hub_limits(session, hub.id):
        if not material_code.startswith(limit.material):
            continue
        for measure, limited, measured in (
            ("mass_kg", limit.max_t, mass_kg),
            ("volume_m3", limit.max_m3, volume_m3),
        ):
            if limited is not None and measured is None:
                raise ValidationFailed.field(
                    measure,
                    "required_by_capacity",
                    f"This hub's capacity counts {'tonnes' if measure == 'mass_kg' else 'm3'}; "
                    f"give the intake's {measure}.",
                )
        problem = _over_capacity(
            balances,
            limit.material,
            limit.max_t,
            limit.max_m3,
            mass_kg or 0.0,
            volume_m3 or 0.0,
        )
        if problem is not None:
            raise Conflict(f"{problem} Nothing was recorded.")

    if lot is None:
        assert condition is not None
        lot = await _new_lot(session, principal, hub, data, material_code, condition)
        lot.mass_per_unit_kg = mass_kg / data.quantity.value if mass_kg else None
        lot.volume_per_unit_m3 = volume_m3 / data.quantity.value if volume_m3 else None
    if match is not None:
        match.status = "fulfilled"
    movement = HubMovement(
        id=uuid.uuid4(),
        hub_id=hub.id,
        lot_id=lot.id,
        organization_id=principal.organization_id,
        kind="intake",
        quantity_value=data.quantity.value,
        mass_kg=mass_kg,
        volume_m3=volume_m3,
        offer_id=data.offer_id,
        match_id=match.id if match else None,
        walk_in=data.walk_in,
        note=data.note,
    )
    session.add(movement)
    await session.flush()
    (balance,) = await lot_balances(session, hub.id, lot.id)
    return movement, balance


async def _reserved_for_hub(
    session: AsyncSession, principal: Principal, offer_id: uuid.UUID
) -> tuple[Offer, Match]:
    """The offer and the operator's oldest accepted match on it: the supplier's material is
    only the yard's to take in once a match reserved it."""
    offer = await session.get(Offer, offer_id)
    if offer is None:
        raise ValidationFailed.field("offer_id", "known_offer", f"No offer {offer_id}.")
    match = await session.scalar(
        select(Match)
        .join(MaterialRequest, MaterialRequest.id == Match.request_id)
        .where(
            Match.offer_id == offer.id,
            Match.status == "accepted",
            MaterialRequest.organization_id == principal.organization_id,
        )
        .order_by(Match.created_at)
        .limit(1)
        .with_for_update(of=Match)
    )
    if match is None:
        raise Conflict(
            "You hold no accepted match on this offer. Propose one from a request of yours "
            "and have both sides accept it: then its quantity is reserved for your yard."
        )
    return offer, match


async def _lot_by_code(session: AsyncSession, hub: Site, code: str) -> HubLot | None:
    return await session.scalar(select(HubLot).where(HubLot.hub_id == hub.id, HubLot.code == code))


def _mass_and_volume(
    data: MovementCreate, lot: HubLot | None, source: Offer | None
) -> tuple[float | None, float | None]:
    """Mass and volume follow from the unit, else from the lot (or the source offer) per unit,
    else from what the client gives."""
    mass_kg, volume_m3 = mass_and_volume(data.quantity, data.mass_kg, data.volume_m3)
    per_unit_mass = lot.mass_per_unit_kg if lot else None
    per_unit_volume = lot.volume_per_unit_m3 if lot else None
    if source is not None and lot is None:
        if source.mass_kg is not None:
            per_unit_mass = source.mass_kg / source.quantity_value
        if source.volume_m3 is not None:
            per_unit_volume = source.volume_m3 / source.quantity_value
    if mass_kg is None and per_unit_mass is not None:
        mass_kg = round(per_unit_mass * data.quantity.value, 3)
    if volume_m3 is None and per_unit_volume is not None:
        volume_m3 = round(per_unit_volume * data.quantity.value, 3)
    return mass_kg, volume_m3


async def _new_lot(
    session: AsyncSession,
    principal: Principal,
    hub: Site,
    data: MovementCreate,
    material: str,
    condition: str,
) -> HubLot:
    """A lot and the offer that puts it on the market, at the hub, in the operator's name."""
    code = data.lot or f"L-{date.today():%Y%m%d}-{uuid.uuid4().hex[:6].upper()}"
    described = await session.get_one(Material, material)
    offer = Offer(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        site_id=hub.id,
        location=hub.location,
        material=material,
        title=f"{described.description[:120]}, lot {code} at {hub.name}"[:200],
        description=f"In stock at {hub.name}; kept in step with the yard's movements.",
        quantity_value=data.quantity.value,
        quantity_unit=data.quantity.unit.value,
        remaining_value=0,
        available_from=date.today(),
        condition=condition,
        price_per_unit=data.price_per_unit,
        status="closed",
    )
    session.add(offer)
    await session.flush()
    lot = HubLot(
        id=uuid.uuid4(),
        hub_id=hub.id,
        organization_id=principal.organization_id,
        code=code,
        material=material,
        condition=condition,
        unit=data.quantity.unit.value,
        price_per_unit=data.price_per_unit,
        offer_id=offer.id,
    )
    session.add(lot)
    await session.flush()
    return lot


async def _dispatch(
    session: AsyncSession, principal: Principal, hub: Site, data: MovementCreate
) -> tuple[HubMovement, LotBalance]:
    _refuse_fields(data, ("offer_id", "walk_in"), "a dispatch")
    _one_of(data, ("match_id", "shipment_id"), "a dispatch goes to a match or a shipment")
    if data.lot is None:
        raise ValidationFailed.field("lot", "required_for_dispatch", "Name the lot it leaves.")
    lot = await _lot_by_code(session, hub, data.lot)
    if lot is None:
        raise ValidationFailed.field("lot", "known_lot", f"No lot {data.lot} in this hub.")
    if data.quantity.unit.value != lot.unit:
        raise ValidationFailed.field(
            "quantity.unit", "same_as_lot", f"Lot {lot.code} counts in {lot.unit}."
        )
    (balance,) = await lot_balances(session, hub.id, lot.id)
    quantity = data.quantity.value
    if quantity > balance.stock + _EPSILON:
        raise Conflict(
            f"Lot {lot.code} holds {balance.stock:g} {lot.unit}; the dispatch is {quantity:g}. "
            "Nothing was recorded.",
            stock=balance.stock,
        )
    match: Match | None = None
    if data.match_id is not None:
        match = await session.get(Match, data.match_id, with_for_update=True)
        if match is None or match.offer_id != lot.offer_id:
            raise ValidationFailed.field(
                "match_id", "match_of_lot", f"No match on lot {lot.code}'s offer {lot.offer_id}."
            )
        if match.status != "accepted":
            raise Conflict(f"This match is {match.status}: only an accepted match is served.")
        # The match's own reservation is there for it; what others hold is not.
        free = balance.available + match.offer_quantity_value
        match.status = "fulfilled"
    else:
        assert data.shipment_id is not None
        await _check_shipment_from(session, hub, data.shipment_id)
        free = balance.available
    if quantity > free + _EPSILON:
        raise Conflict(
            f"Only {free:g} {lot.unit} of lot {lot.code} are free; accepted matches hold "
            f"{balance.reserved:g}. Nothing was recorded.",
            available=free,
        )
    mass_kg, volume_m3 = _mass_and_volume(data, lot, None)
    movement = HubMovement(
        id=uuid.uuid4(),
        hub_id=hub.id,
        lot_id=lot.id,
        organization_id=principal.organization_id,
        kind="dispatch",
        quantity_value=quantity,
        mass_kg=mass_kg,
        volume_m3=volume_m3,
        match_id=data.match_id,
        shipment_id=data.shipment_id,
        note=data.note,
    )
    session.add(movement)
    await session.flush()
    (balance,) = await lot_balances(session, hub.id, lot.id)
    return movement, balance


async def _check_shipment_from(session: AsyncSession, hub: Site, shipment_id: uuid.UUID) -> None:
    """A shipment another organization (a carrier) may have posted, as long as it collects at
    this hub."""
    from_hub = await session.scalar(
        select(ShipmentRow.id).where(
            ShipmentRow.id == shipment_id,
            _within(ShipmentRow.pickup_location, hub.id, PICKUP_AT_HUB_M),
        )
    )
    if from_hub is None:
        raise ValidationFailed.field(
            "shipment_id",
            "shipment_from_hub",
            f"No shipment {shipment_id} collecting within {PICKUP_AT_HUB_M} m of this hub.",
        )


def _within(location: Any, hub_id: uuid.UUID, metres: float) -> ColumnElement[bool]:
    hub_location = select(Site.location).where(Site.id == hub_id).scalar_subquery()
    return func.ST_DWithin(geography(location), geography(hub_location), metres)


def _refuse_fields(data: MovementCreate, fields: tuple[str, ...], what: str) -> None:
    for field in fields:
        if getattr(data, field) is not None:
            raise ValidationFailed.field(
                field, "not_for_kind", f"{what.capitalize()} has no {field}."
            )


def _one_of(data: MovementCreate, fields: tuple[str, str], message: str) -> None:
    given = [f for f in fields if getattr(data, f) is not None]
    if len(given) != 1:
        raise ValidationFailed.field(
            fields[0] if not given else fields[1],
            "exactly_one",
            f"{message}: give one of {' or '.join(fields)}.",
        )


async def _sync_lot_offer(session: AsyncSession, balance: LotBalance) -> None:
    """The lot's offer follows its movements: everything that came in is the quantity, what is
    in stock and not held for a match is what remains to match."""
    lot = balance.lot
    offer = await session.get_one(Offer, lot.offer_id, with_for_update=True, populate_existing=True)
    offer.quantity_value = balance.taken_in
    offer.remaining_value = balance.available
    offer.mass_kg = (
        round(lot.mass_per_unit_kg * balance.taken_in, 3) if lot.mass_per_unit_kg else None
    )
    offer.volume_m3 = (
        round(lot.volume_per_unit_m3 * balance.taken_in, 3) if lot.volume_per_unit_m3 else None
    )
    offer.status = (
        "open" if balance.available > 0 else ("reserved" if balance.reserved > 0 else "closed")
    )
    await session.flush()


def _movement_view(movement: HubMovement, lot: HubLot, stock_after: float) -> Movement:
    return Movement.model_validate(
        {
            **{f: getattr(movement, f) for f in Movement.model_fields if hasattr(movement, f)},
            "lot": lot.code,
            "material": lot.material,
            "condition": lot.condition,
            "quantity": {"value": movement.quantity_value, "unit": lot.unit},
            "lot_stock_after": round(stock_after, 3),
        }
    )


async def list_movements(
    session: AsyncSession,
    principal: Principal,
    hub_id: uuid.UUID,
    page: PageParams,
    movement_id: uuid.UUID | None = None,
) -> list[Movement]:
    """The hub's movements, newest first, each with its lot's stock right after it."""
    hub = await load_hub(session, principal, hub_id)
    running = (
        select(
            HubMovement.id,
            func.sum(signed_quantity())
            .over(
                partition_by=HubMovement.lot_id,
                order_by=(HubMovement.created_at, HubMovement.id),
            )
            .label("stock_after"),
        )
        .where(HubMovement.hub_id == hub.id)
        .subquery()
    )
    query = (
        select(HubMovement, HubLot, running.c.stock_after)
        .join(HubLot, HubLot.id == HubMovement.lot_id)
        .join(running, running.c.id == HubMovement.id)
        .order_by(HubMovement.created_at.desc(), HubMovement.id.desc())
        .limit(page.limit)
    )
    if page.after is not None:
        last_created_at, last_id = (str(v) for v in page.after)
        query = query.where(
            tuple_(HubMovement.created_at, HubMovement.id)
            < tuple_(literal(datetime.fromisoformat(last_created_at)), literal(uuid.UUID(last_id)))
        )
    if movement_id is not None:
        query = query.where(HubMovement.id == movement_id)
    rows = (await session.execute(query)).all()
    return [_movement_view(m, lot, float(after)) for m, lot, after in rows]


async def get_movement(
    session: AsyncSession, principal: Principal, hub_id: uuid.UUID, movement_id: uuid.UUID
) -> Movement:
    found = await list_movements(
        session, principal, hub_id, PageParams(limit=1, after=None), movement_id
    )
    if not found:
        raise NotFound(f"No movement {movement_id} in this hub.")
    return found[0]


# ---- stock ----


async def hub_stock(session: AsyncSession, principal: Principal, hub_id: uuid.UUID) -> Stock:
    hub = await load_hub(session, principal, hub_id)
    balances = await lot_balances(session, hub.id)
    limits = {limit.material: limit for limit in await hub_limits(session, hub.id)}

    @functools.cache
    def totals(family: str) -> tuple[float, float]:
        mass_kg, volume = family_totals(balances, family)
        return round(mass_kg / 1000, 3), round(volume, 3)

    whole = limits.get("")
    mass_t, volume = totals("")
    return Stock(
        hub_id=hub.id,
        lots=[
            Lot.model_validate(
                {
                    "lot": b.lot.code,
                    "material": b.lot.material,
                    "condition": b.lot.condition,
                    "unit": b.lot.unit,
                    "stock": round(b.stock, 3),
                    "reserved": round(b.reserved, 3),
                    "available": b.available,
                    "mass_kg": b.mass_kg,
                    "volume_m3": b.volume_m3,
                    "offer_id": b.lot.offer_id,
                    "arrived_at": b.lot.created_at,
                }
            )
            for b in balances
            if b.stock > 0
        ],
        mass_t=mass_t,
        volume_m3=volume,
        capacity_t=whole.max_t if whole else None,
        capacity_m3=whole.max_m3 if whole else None,
        families=[
            FamilyStock(
                material=family,
                mass_t=totals(family)[0],
                volume_m3=totals(family)[1],
                capacity_t=limit.max_t,
                capacity_m3=limit.max_m3,
            )
            for family, limit in limits.items()
            if family
        ],
    )


# ---- pooling ----


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
    thresholds = await _thresholds(session, hub.id)
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
    for hub_id in hub_ids:
        thresholds = (
            await session.scalars(
                select(HubPoolingThreshold)
                .where(HubPoolingThreshold.hub_id == hub_id)
                .order_by(HubPoolingThreshold.material)
                .with_for_update()
            )
        ).all()
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
                )
            elif not pool.reached and threshold.reached_at is not None:
                threshold.reached_at = None
    await session.flush()
    return fired


async def hubs_pooling_near(session: AsyncSession, offer: Offer) -> list[uuid.UUID]:
    """The hubs with a threshold this offer counts towards (its family, within the radius)."""
    query = (
        select(HubPoolingThreshold.hub_id)
        .join(Site, Site.id == HubPoolingThreshold.hub_id)
        .where(
            Site.organization_id != offer.organization_id,
            func.starts_with(offer.material, HubPoolingThreshold.material),
            func.ST_DWithin(
                geography(Site.location),
                geography(select(Offer.location).where(Offer.id == offer.id).scalar_subquery()),
                HubPoolingThreshold.radius_km * 1000,
            ),
        )
        .distinct()
    )
    return list((await session.scalars(query)).all())


async def refresh_thresholds_near(session: AsyncSession, offer: Offer) -> None:
    """A new offer may carry a nearby pool over its threshold."""
    await session.flush()
    await refresh_thresholds(session, await hubs_pooling_near(session, offer))


async def refresh_all_thresholds(session: AsyncSession) -> int:
    """The periodic sweep: catches what changes a pool other than movements and new offers
    (reservations, patched or expired offers)."""
    hub_ids = list((await session.scalars(select(HubPoolingThreshold.hub_id).distinct())).all())
    fired = await refresh_thresholds(session, hub_ids)
    await session.commit()
    return fired


async def refuse_lot_offer_edit(session: AsyncSession, offer: Offer) -> None:
    """A lot's offer follows the hub's movements; edited by hand it would drift from them."""
    lot = await lot_of_offer(session, offer.id)
    if lot is not None:
        problem = Conflict(
            f"This offer shows lot {lot.code} of one of your hubs and follows its movements: "
            f"record an intake or a dispatch at /v1/hubs/{lot.hub_id}/movements instead."
        )
        # Rolling back expires the rows, so the problem is written first.
        await session.rollback()
        raise problem
