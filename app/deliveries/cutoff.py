"""A slot's cut-off: its bookings are planned as a route plan of the carrier's, with the same
portfolio and defaults as every plan, starting from the rounds they were booked into (which the
plan never serves fewer of: `logistics.portfolio.solve`'s `initial`). Once the plan is done
its deliveries are `planned`; one it leaves out (the carrier's fleet changed since the booking)
is moved into the next slot that can take it, or needs attention, and its shop hears either.

A sweep every minute plans the slots whose cut-off has passed (each taken by one sweep at a
time, SKIP LOCKED); a slot is settled as its plan is done, in the plan's transaction
(`settle_slot_of_plan`, handed to the route plans' job), or by the sweep when its plan failed."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.deliveries import repository
from app.deliveries.booked_rounds import booked_round
from app.deliveries.quoting import fit_in_slot
from app.deliveries.rounds import AskedDelivery, asked_of, booked_as
from app.deliveries.schemas import MAX_DAYS_AHEAD, DeliveryStatus
from app.deliveries.slots import SlotTime, slot_times
from app.kit.local_time import BRUSSELS
from app.models import Delivery, DeliveryService, DeliverySlot, RoutePlan
from app.route_plans.schemas import PlanStatus, RoutePlanCreate
from app.route_plans.service import PLAN_JOB
from app.settings import Settings
from app.webhooks.outbox import emit
from app.webhooks.schemas import EventType

# Slots planned by one sweep at most: the next minute's takes the rest.
SLOTS_A_SWEEP = 20
_ENDED = (PlanStatus.done.value, PlanStatus.failed.value, PlanStatus.cancelled.value)


def _slot_time(slot: DeliverySlot) -> SlotTime:
    return SlotTime(slot.starts_at, slot.ends_at, slot.cutoff_at)


async def plan_slots_past_cutoff(session: AsyncSession, settings: Settings) -> int:
    """Queues the plan of each slot whose cut-off has passed; answers how many slots."""
    due = await session.scalars(
        select(DeliverySlot)
        .where(DeliverySlot.status == "open", DeliverySlot.cutoff_at <= datetime.now(UTC))
        .order_by(DeliverySlot.cutoff_at)
        .limit(SLOTS_A_SWEEP)
        .with_for_update(skip_locked=True)
    )
    slots = list(due)
    for slot in slots:
        await plan_slot(session, settings, slot)
    return len(slots)


async def plan_slot(session: AsyncSession, settings: Settings, slot: DeliverySlot) -> None:
    """Closes the slot (locked by the caller) to bookings and queues the plan of its rounds."""
    service = await session.get(DeliveryService, slot.service_id)
    assert service is not None
    booked = await booked_round(session, slot)
    if not booked.booked:
        slot.status = "planned"
        return
    defaults = RoutePlanCreate.model_fields
    plan = RoutePlan(
        id=uuid.uuid4(),
        organization_id=service.organization_id,
        date=slot.starts_at.astimezone(BRUSSELS).date(),
        status=PlanStatus.queued.value,
        matrix=defaults["matrix"].default,
        objective=defaults["objective"].default,
        time_limit_s=settings.delivery_cutoff_plan_s,
        mode="direct",
        inputs=booked.inputs.model_dump(mode="json"),
        initial_routes=slot.plan,
    )
    await PLAN_JOB.queue(session, plan)
    slot.status, slot.route_plan_id = "planning", plan.id


async def settle_planned_slots(session: AsyncSession) -> int:
    """Settles each slot whose plan has ended and was not settled as it ended (a plan that
    failed or was cancelled, a worker that stopped in between); answers how many slots."""
    ended = await session.execute(
        select(DeliverySlot, RoutePlan)
        .join(RoutePlan, RoutePlan.id == DeliverySlot.route_plan_id)
        .where(DeliverySlot.status == "planning", RoutePlan.status.in_(_ENDED))
        .limit(SLOTS_A_SWEEP)
        .with_for_update(of=DeliverySlot, skip_locked=True)
    )
    rows = list(ended.all())
    for slot, plan in rows:
        # A plan that failed leaves the rounds as booked, which keep every rule.
        done = plan.status == PlanStatus.done.value
        await _settle(session, slot, plan, plan.result if done else None)
    return len(rows)


async def settle_slot_of_plan(session: AsyncSession, plan: RoutePlan) -> None:
    """As a slot's plan is done, in its transaction: the slot's deliveries are settled."""
    slot = await session.scalar(
        select(DeliverySlot)
        .where(DeliverySlot.route_plan_id == plan.id, DeliverySlot.status == "planning")
        .with_for_update()
    )
    if slot is not None:
        await _settle(session, slot, plan, plan.result)


async def _settle(
    session: AsyncSession, slot: DeliverySlot, plan: RoutePlan, result: dict[str, Any] | None
) -> None:
    """Marks the slot's deliveries planned, or moved to a later slot when the plan's `result`
    left them out (none without a result)."""
    left_out = set() if result is None else {u["shipment_id"] for u in result["unassigned"]}
    for delivery in await repository.booked_in(session, slot.id):
        if str(delivery.id) in left_out:
            await _move_to_a_later_slot(session, delivery, slot)
            continue
        delivery.status = DeliveryStatus.planned.value
        await emit(
            session,
            {delivery.organization_id},
            EventType.delivery_planned.value,
            {"delivery_id": str(delivery.id), "route_plan_id": str(plan.id)},
            fact=[delivery.id, plan.id],
        )
    slot.status = "planned"


async def _move_to_a_later_slot(
    session: AsyncSession, delivery: Delivery, left: DeliverySlot
) -> None:
    service = await session.get(DeliveryService, delivery.service_id)
    assert service is not None
    now = datetime.now(UTC)
    later = slot_times(
        service.weekdays, service.slots, left.ends_at, left.ends_at + timedelta(days=MAX_DAYS_AHEAD)
    )
    asked = asked_of(delivery)
    for slot_time in later:
        if slot_time.starts_at < left.ends_at or slot_time.cutoff_at <= now:
            continue
        slot = await repository.locked_slot(session, service.id, slot_time)
        if slot.status != "open":
            continue
        moved = AskedDelivery(
            asked.pickup,
            asked.dropoff,
            slot_time.starts_at,
            slot_time.ends_at,
            asked.weight_kg,
            asked.volume_m3,
        )
        fit = await fit_in_slot(
            session, await repository.service_fleet(session, service), slot_time, slot, moved
        )
        if fit is None:
            continue
        delivery.slot_id = slot.id
        delivery.deliver_from, delivery.deliver_until = slot_time.starts_at, slot_time.ends_at
        slot.plan = booked_as(fit.plan, str(delivery.id))
        await session.flush()
        await emit(
            session,
            {delivery.organization_id},
            EventType.delivery_moved.value,
            {"delivery_id": str(delivery.id), "slot_starts_at": slot.starts_at.isoformat()},
            fact=[delivery.id, slot.id],
        )
        return
    delivery.status = DeliveryStatus.needs_attention.value
    await emit(
        session,
        {delivery.organization_id},
        EventType.delivery_needs_attention.value,
        {"delivery_id": str(delivery.id), "reason": "no_later_slot_fits"},
        fact=[delivery.id, left.id],
    )
