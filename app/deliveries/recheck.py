"""A slot's rounds as booked, timed again from their stops and checked by `logistics.check`:
what a booking must never break, for the tests and the benchmark to see."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.deliveries import repository
from app.deliveries.quoting import service_hub
from app.deliveries.rounds import round_inputs, round_problem, steps_of_plan
from app.deliveries.slots import SlotTime
from app.models import DeliveryService, DeliverySlot
from logistics.check import route_problems
from logistics.schedule import route_along


async def round_problems(session: AsyncSession, slot: DeliverySlot) -> list[str]:
    """Every rule the slot's rounds break, in words; also when a booked delivery is in none of
    them, or in one twice. Empty when they keep them all."""
    service = await session.get(DeliveryService, slot.service_id)
    assert service is not None
    vehicles = await repository.vehicles_by_id(session, service.vehicle_ids)
    booked = await repository.booked_in(session, slot.id)
    hub = await service_hub(session, service)
    slot_time = SlotTime(slot.starts_at, slot.ends_at, slot.cutoff_at)
    problem = round_problem(slot_time, round_inputs(slot_time, hub, vehicles, booked)).problem
    shipments = {s.id: s for s in problem.shipments}
    steps = steps_of_plan(problem, slot.plan)
    found = []
    visited = sorted(s.shipment.id for route in steps.values() for s in route)
    if visited != sorted(2 * [str(d.id) for d in booked]):
        found.append("the rounds do not visit each booked delivery once at each end")
    for vehicle in problem.vehicles:
        route = route_along(problem, vehicle, steps.get(vehicle.id, []))
        found += route_problems(problem, shipments, vehicle, route)
    return found
