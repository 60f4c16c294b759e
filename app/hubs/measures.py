"""The mass and volume of a movement. A lot has one mass per unit and one volume per unit,
fixed at its first intake: every later movement of the lot is weighed by them, so a lot
cannot be declared light for a capacity check and heavy in the stock."""

from app.hubs.schemas import MovementCreate
from app.kit.problems import ValidationFailed
from app.kit.quantity import mass_and_volume
from app.models import HubLot, Offer

# Movement masses and volumes are kept to three decimals.
_TOLERANCE = 0.0005


def movement_measures(
    data: MovementCreate, lot: HubLot | None, source: Offer | None
) -> tuple[float | None, float | None]:
    """Mass (kg) and volume (m3): from the unit (kg, t, m3), else from the lot's figures per
    unit, else, for the first intake of a lot, from what the client gives or from the source
    offer's figures per unit."""
    from_unit_mass, from_unit_volume = mass_and_volume(data.quantity, None, None)
    measured = mass_and_volume(data.quantity, data.mass_kg, data.volume_m3)
    quantity = data.quantity.value
    results: list[float | None] = []
    for field, given, from_unit, value, lot_per_unit, source_total in (
        (
            "mass_kg",
            data.mass_kg,
            from_unit_mass,
            measured[0],
            lot.mass_per_unit_kg if lot else None,
            source.mass_kg if source else None,
        ),
        (
            "volume_m3",
            data.volume_m3,
            from_unit_volume,
            measured[1],
            lot.volume_per_unit_m3 if lot else None,
            source.volume_m3 if source else None,
        ),
    ):
        if from_unit is not None:
            results.append(value)
        elif lot is not None:
            results.append(_by_lot(field, given, lot, lot_per_unit, quantity))
        elif given is not None:
            results.append(given)
        elif source is not None and source_total is not None:
            results.append(round(source_total / source.quantity_value * quantity, 3))
        else:
            results.append(None)
    return results[0], results[1]


def _by_lot(
    field: str, given: float | None, lot: HubLot, per_unit: float | None, quantity: float
) -> float | None:
    measure = "mass" if field == "mass_kg" else "volume"
    if per_unit is None:
        if given is not None:
            raise ValidationFailed.field(
                field,
                "fixed_by_lot",
                f"Lot {lot.code} was taken in without a {measure} per {lot.unit}; its "
                f"movements have none. Leave {field} out, or take this in as a new lot.",
            )
        return None
    expected = round(per_unit * quantity, 3)
    if given is not None and abs(given - expected) > max(_TOLERANCE, 1e-6 * expected):
        raise ValidationFailed.field(
            field,
            "consistent_with_lot",
            f"Lot {lot.code} weighs {per_unit:g} per {lot.unit} since its first intake, so "
            f"{quantity:g} {lot.unit} are {expected:g}; leave {field} out or give that value.",
        )
    return expected
