"""A slot's rounds as booked, timed again from their stops and checked by `logistics.check`:
what a booking must never break, for the tests and the benchmark to see."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.deliveries import repository
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
    fleet = await repository.service_fleet(session, service)
    booked = await repository.booked_in(session, slot.id)
    slot_time = SlotTime(slot.starts_at, slot.ends_at, slot.cutoff_at)
    inputs = round_inputs(slot_time, fleet.hub, fleet.vehicles, booked)
    problem = round_problem(slot_time, inputs).problem
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
