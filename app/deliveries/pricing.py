"""A delivery's price by its service's list, and its carbon against a van that would carry it
alone."""

from dataclasses import dataclass

from app.fleet.schemas import DEFAULTS, VehicleType
from logistics.matrices import DETOUR_FACTOR, haversine_m

# The van a shop would otherwise send, as the fleet's defaults describe a van.
VAN_CO2_G_PER_KM = float(DEFAULTS[VehicleType.van]["co2_g_per_km"] or 0)


@dataclass(frozen=True)
class Price:
    excl_vat: float
    vat: float
    incl_vat: float


def price_of(
    weight_kg: float, per_delivery: float, per_kg: float, included_kg: float, vat_rate: float
) -> Price:
    """In euros to the cent: the delivery's price, the kg beyond what it covers, VAT on top."""
    excl = round(per_delivery + per_kg * max(0.0, weight_kg - included_kg), 2)
    vat = round(excl * vat_rate, 2)
    return Price(excl, vat, round(excl + vat, 2))


def van_alone_co2e_g(
    hub: tuple[float, float], pickup: tuple[float, float], dropoff: tuple[float, float]
) -> float:
    """A van from the hub to the shop, to the customer and back, by the straight line with
    the detour of Brussels' streets (as `logistics.matrices.straight_line`)."""
    legs = haversine_m([hub, pickup, dropoff])
    metres = (legs[0, 1] + legs[1, 2] + legs[2, 0]) * DETOUR_FACTOR
    return round(metres / 1000 * VAN_CO2_G_PER_KM, 1)
