"""Quantities with a unit, and the mass and volume that follow from them."""

from enum import StrEnum

from pydantic import BaseModel, Field
from pydantic_core import PydanticCustomError

from app.errors import Conflict, ValidationFailed


class Unit(StrEnum):
    kg = "kg"
    t = "t"
    m3 = "m3"
    piece = "piece"


class Quantity(BaseModel):
    value: float = Field(gt=0, le=1e12, examples=[12])
    unit: Unit = Field(examples=["t"])


class Remaining(BaseModel):
    """What is left of a quantity once matches reserved their part; may reach zero."""

    value: float = Field(ge=0)
    unit: Unit


class Condition(StrEnum):
    """A: reusable as is; B: needs work; C: recycling only."""

    A = "A"
    B = "B"
    C = "C"


def condition_at_least(condition: Condition) -> list[str]:
    """The conditions as good as `condition` or better."""
    return [c.value for c in Condition if c.value <= condition.value]


def mass_and_volume(
    quantity: Quantity, mass_kg: float | None, volume_m3: float | None
) -> tuple[float | None, float | None]:
    """Mass follows from kg and t, volume from m3; for the other units the client gives them
    (a piece needs its mass for anything that moves it). A given value that contradicts the
    quantity is refused rather than silently replaced."""
    derived_mass = {Unit.kg: quantity.value, Unit.t: quantity.value * 1000}.get(quantity.unit)
    derived_volume = quantity.value if quantity.unit is Unit.m3 else None
    for field, given, derived in (
        ("mass_kg", mass_kg, derived_mass),
        ("volume_m3", volume_m3, derived_volume),
    ):
        if (
            given is not None
            and derived is not None
            and abs(given - derived) > 1e-6 * max(1.0, derived)
        ):
            raise ValidationFailed.field(
                field,
                "consistent_with_quantity",
                f"{field} follows from the quantity ({derived:g}); leave it out or give that value.",
            )
    return (
        derived_mass if derived_mass is not None else mass_kg,
        derived_volume if derived_volume is not None else volume_m3,
    )


def window_error(start_field: str) -> PydanticCustomError:
    return PydanticCustomError("window_ordered", f"must be on or after {start_field}")


def rebased_remaining(
    old_value: float, old_unit: str, old_remaining: float, new: Quantity
) -> float:
    """The remaining quantity after the total changes: what is already reserved stays reserved."""
    reserved = old_value - old_remaining
    if reserved > 0 and new.unit.value != old_unit:
        raise Conflict(f"{reserved:g} {old_unit} are reserved: the unit can no longer change.")
    if new.value < reserved:
        raise Conflict(f"{reserved:g} {old_unit} are reserved: the quantity cannot go below that.")
    return new.value - reserved
