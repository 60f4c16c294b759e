"""A delivery's options: for each service whose zone holds both its ends and whose limits it
keeps, each slot in the asked window whose cut-off has not passed and whose round it fits into
as booked so far (`rounds.fit_asked`); or, when there is none, the problem that says why."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.deliveries import repository
from app.deliveries.pricing import price_of, van_alone_co2e_g
from app.deliveries.rounds import AskedDelivery, Fit, fit_asked, round_inputs, round_problem
from app.deliveries.schemas import DeliveryAsk, QuoteOption
from app.deliveries.slots import SlotTime, slot_times
from app.kit.problems import Conflict, ValidationFailed
from app.models import DeliveryService, DeliverySlot
from app.route_plans.inputs import lonlat

# The narrowest delivery window worth offering: the part of a slot within the asked window.
MIN_WINDOW = timedelta(minutes=15)
# Options answered at most: the soonest slots that fit, of every service.
MAX_OPTIONS = 8


@dataclass(frozen=True)
class Placed:
    """Where an ask lies: its ends as stored points and as [lon, lat]."""

    pickup: object
    dropoff: object

    @property
    def pickup_lonlat(self) -> tuple[float, float]:
        return lonlat(self.pickup)

    @property
    def dropoff_lonlat(self) -> tuple[float, float]:
        return lonlat(self.dropoff)


def asked_in_slot(ask: DeliveryAsk, placed: Placed, slot: SlotTime) -> AskedDelivery | None:
    deliver_from = max(ask.earliest.astimezone(UTC), slot.starts_at)
    deliver_until = min(ask.latest.astimezone(UTC), slot.ends_at)
    if deliver_until - deliver_from < MIN_WINDOW:
        return None
    return AskedDelivery(
        pickup=placed.pickup_lonlat,
        dropoff=placed.dropoff_lonlat,
        deliver_from=deliver_from,
        deliver_until=deliver_until,
        weight_kg=ask.parcels.weight_kg,
        volume_m3=ask.parcels.volume_m3,
    )


async def fit_in_slot(
    session: AsyncSession,
    fleet: repository.ServiceFleet,
    slot: SlotTime,
    row: DeliverySlot | None,
    asked: AskedDelivery,
) -> Fit | None:
    """Where the ask fits in the slot's round as booked so far (none booked without `row`)."""
    booked = [] if row is None else await repository.booked_in(session, row.id)
    inputs = round_inputs(slot, fleet.hub, fleet.vehicles, booked, asked)
    if not inputs.vehicles:
        return None
    return fit_asked(round_problem(slot, inputs), {} if row is None else row.plan)


def option_of(
    option_id: str,
    service: DeliveryService,
    slot: SlotTime,
    asked: AskedDelivery,
    fit: Fit,
    hub: tuple[float, float],
) -> QuoteOption:
    price = price_of(
        asked.weight_kg,
        service.price_per_delivery,
        service.price_per_kg,
        service.included_kg,
        service.vat_rate,
    )
    added_km = fit.insertion.added_distance / 1000
    return QuoteOption(
        id=option_id,
        service_id=service.id,
        service_name=service.name,
        slot_starts_at=slot.starts_at,
        slot_ends_at=slot.ends_at,
        cutoff_at=slot.cutoff_at,
        deliver_from=asked.deliver_from,
        deliver_until=asked.deliver_until,
        vehicle_type=fit.vehicle.type.value,
        price_excl_vat=price.excl_vat,
        vat=price.vat,
        price_incl_vat=price.incl_vat,
        co2e_g=round(added_km * fit.vehicle.co2_g_per_km, 1),
        van_co2e_g=van_alone_co2e_g(hub, asked.pickup, asked.dropoff),
    )


async def delivery_options(
    session: AsyncSession, ask: DeliveryAsk, placed: Placed, now: datetime
) -> list[QuoteOption]:
    """The options of `ask`, cheapest first, then soonest; raises the problem that says why
    when there is none."""
    reaching = await repository.services_reaching(session, placed.pickup, placed.dropoff)
    covering = [service for service, p, d in reaching if p and d]
    if not covering:
        outside = "pickup" if any(d for _, _, d in reaching) else "dropoff"
        raise ValidationFailed.field(
            outside if reaching else "dropoff",
            "outside_every_zone",
            "No delivery service rides there: no zone holds both the pickup and the drop-off.",
        )
    parcels = ask.parcels
    taking = [
        s
        for s in covering
        if parcels.weight_kg <= s.max_parcel_kg and parcels.volume_m3 <= s.max_parcel_m3
    ]
    if not taking:
        heaviest = max(s.max_parcel_kg for s in covering)
        raise ValidationFailed.field(
            "parcels",
            "larger_than_every_service_takes",
            f"No service here takes {parcels.weight_kg:g} kg and {parcels.volume_m3:g} m3 at "
            f"once (the most any takes: {heaviest:g} kg); split the delivery.",
        )
    found: list[tuple[float, datetime, QuoteOption]] = []
    full = past_cutoff = 0
    for service in taking:
        times = slot_times(service.weekdays, service.slots, ask.earliest, ask.latest)
        rows = await repository.slot_rows(session, service.id, [t.starts_at for t in times])
        fleet = await repository.service_fleet(session, service)
        served = 0
        for slot in times:
            if served >= MAX_OPTIONS:
                break
            row = rows.get(slot.starts_at)
            if slot.cutoff_at <= now or (row is not None and row.status != "open"):
                past_cutoff += 1
                continue
            asked = asked_in_slot(ask, placed, slot)
            if asked is None:
                continue
            fit = await fit_in_slot(session, fleet, slot, row, asked)
            if fit is None:
                full += 1
                continue
            option = option_of("", service, slot, asked, fit, fleet.hub)
            found.append((option.price_incl_vat, slot.starts_at, option))
            served += 1
    if not found:
        raise Conflict(
            "No slot between earliest and latest can take this delivery: "
            f"{full} full (or too short for its trip), {past_cutoff} past their cut-off. "
            "Widen the window or ask again later.",
            rule="no_slot_left",
            full=full,
            past_cutoff=past_cutoff,
        )
    found.sort(key=lambda f: (f[0], f[1]))
    return [
        option.model_copy(update={"id": f"opt-{k}"})
        for k, (_, _, option) in enumerate(found[:MAX_OPTIONS], start=1)
    ]


def option_slot(option: QuoteOption) -> SlotTime:
    return SlotTime(option.slot_starts_at, option.slot_ends_at, option.cutoff_at)
