"""Key figures of a plan, ISO 14083 / GLEC style: vehicle emission factor x distance, allocated
to shipments by tonne-km; and the baseline every plan is compared with: each shipment carried
alone by a van from its pickup to its delivery."""

from dataclasses import dataclass

from logistics.model import Matrices, Route

# GLEC-style defaults, kg CO2e per vehicle-km (well-to-wheel), used when a vehicle gives none.
DEFAULT_KG_CO2_PER_KM = {
    "cargo_bike": 0.0,
    "cargo_trike": 0.0,
    "e_van": 0.06,
    "van": 0.27,
    "truck": 0.8,
}
BASELINE_VAN_KG_CO2_PER_KM = DEFAULT_KG_CO2_PER_KM["van"]


@dataclass(frozen=True)
class RouteFigures:
    km: float
    hours: float
    co2_kg: float
    tonne_km: float


@dataclass(frozen=True)
class PlanFigures:
    routes: list[RouteFigures]
    km: float
    hours: float
    vehicles: int
    co2_kg: float
    tonne_km: float
    co2_kg_by_shipment: dict[str, float]
    baseline_km: float
    baseline_co2_kg: float

    @property
    def saving(self) -> dict[str, float]:
        km, co2 = self.baseline_km - self.km, self.baseline_co2_kg - self.co2_kg
        return {
            "km": round(km, 3),
            "co2_kg": round(co2, 3),
            "km_pct": round(100 * km / self.baseline_km, 1) if self.baseline_km else 0.0,
            "co2_pct": round(100 * co2 / self.baseline_co2_kg, 1) if self.baseline_co2_kg else 0.0,
        }


def plan_figures(
    routes: list[Route],
    kg_co2_per_km: dict[str, float],
    mass_g: dict[str, int],
    baseline_legs: dict[str, tuple[int, int]],
    baseline_matrices: Matrices,
) -> PlanFigures:
    """`routes` in metres and seconds, each vehicle's factor in kg CO2e per km, each
    shipment's mass in grams, and each shipment's pickup and delivery location in the van
    matrices of the baseline."""
    figures = []
    by_shipment: dict[str, float] = {}
    for route in routes:
        on_board: dict[str, int] = {}
        leg_tonne_km: dict[str, float] = {}
        tonne_km = 0.0
        for before, after in zip(route.stops, route.stops[1:], strict=False):
            if before.kind == "pickup" and before.shipment_id:
                on_board[before.shipment_id] = mass_g[before.shipment_id]
            elif before.kind == "delivery" and before.shipment_id:
                on_board.pop(before.shipment_id, None)
            km = (after.distance - before.distance) / 1000
            for shipment_id, grams in on_board.items():
                leg_tonne_km[shipment_id] = leg_tonne_km.get(shipment_id, 0.0) + grams / 1e6 * km
                tonne_km += grams / 1e6 * km
        km = route.distance / 1000
        co2 = kg_co2_per_km[route.vehicle_id] * km
        for shipment_id, tkm in leg_tonne_km.items():
            by_shipment[shipment_id] = by_shipment.get(shipment_id, 0.0) + (
                co2 * tkm / tonne_km if tonne_km else 0.0
            )
        figures.append(RouteFigures(km, route.duration / 3600, co2, tonne_km))
    baseline_km = (
        sum(int(baseline_matrices.distance[p, d]) for p, d in baseline_legs.values()) / 1000
    )
    return PlanFigures(
        routes=figures,
        km=sum(f.km for f in figures),
        hours=sum(f.hours for f in figures),
        vehicles=len(routes),
        co2_kg=sum(f.co2_kg for f in figures),
        tonne_km=sum(f.tonne_km for f in figures),
        co2_kg_by_shipment={k: round(v, 4) for k, v in by_shipment.items()},
        baseline_km=baseline_km,
        baseline_co2_kg=baseline_km * BASELINE_VAN_KG_CO2_PER_KM,
    )
