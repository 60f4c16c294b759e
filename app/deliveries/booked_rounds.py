"""A slot's rounds as booked, read from the database: its deliveries as the shipments of a route
plan's inputs, and the check that they keep every rule (`logistics.check`), timed again from
their stops, for the tests and the benchmark to see what a booking must never break."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.deliveries import repository
from app.deliveries.rounds import round_inputs, round_problem, steps_of_plan
from app.deliveries.slots import SlotTime
from app.models import Delivery, DeliveryService, DeliverySlot
from app.route_plans.plan_inputs import PlanInputs
from app.route_plans.problem import PlanProblem
from logistics.check import route_problems
from logistics.schedule import route_along


@dataclass(frozen=True)
class BookedRound:
    slot: SlotTime
    booked: list[Delivery]
    inputs: PlanInputs

    @property
    def problem(self) -> PlanProblem:
        return round_problem(self.slot, self.inputs)


async def booked_round(session: AsyncSession, slot: DeliverySlot) -> BookedRound:
    """The slot's booked deliveries and its service's fleet as it is now."""
    service = await session.get(DeliveryService, slot.service_id)
    assert service is not None
    fleet = await repository.service_fleet(session, service)
    booked = await repository.booked_in(session, slot.id)
    slot_time = SlotTime(slot.starts_at, slot.ends_at, slot.cutoff_at)
    return BookedRound(
        slot_time, booked, round_inputs(slot_time, fleet.hub, fleet.vehicles, booked)
    )


async def round_problems(session: AsyncSession, slot: DeliverySlot) -> list[str]:
    """Every rule the slot's rounds break, in words; also when a booked delivery is in none of
    them, or in one twice. Empty when they keep them all."""
    booked = await booked_round(session, slot)
    problem = booked.problem.problem
    shipments = {s.id: s for s in problem.shipments}
    steps = steps_of_plan(problem, slot.plan)
    found = []
    visited = sorted(s.shipment.id for route in steps.values() for s in route)
    if visited != sorted(2 * [str(d.id) for d in booked.booked]):
        found.append("the rounds do not visit each booked delivery once at each end")
    for vehicle in problem.vehicles:
        route = route_along(problem, vehicle, steps.get(vehicle.id, []))
        found += route_problems(problem, shipments, vehicle, route)
    return found
