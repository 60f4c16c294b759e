"""Quantities with a unit, and the mass and volume that follow from them."""

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field
from pydantic_core import PydanticCustomError

from app.kit.problems import Conflict, ValidationFailed
from app.kit.schema import THREE_DECIMALS, TWO_DECIMALS, InputModel


class Unit(StrEnum):
    kg = "kg"
    t = "t"
    m3 = "m3"
    piece = "piece"


# The most of its unit a quantity may name: a billion tonnes is far beyond any real lot, and
# the `Numeric(16, 3)` columns hold less than 10^13 (a billion tonnes in kg is 10^12).
MAX_QUANTITY = 1e9
_STORED = "Stored with 3 decimals: a multiple of 0.001; finer values are refused, not rounded."


def _stored(most: str) -> str:
    return f"Positive, at most {most}. {_STORED}"


Amount = Annotated[
    float, Field(gt=0, le=MAX_QUANTITY, description=_stored("1 000 000 000")), THREE_DECIMALS
]
MassKg = Annotated[
    float,
    Field(gt=0, le=MAX_QUANTITY * 1000, description=_stored("10^12 kg")),
    THREE_DECIMALS,
]
VolumeM3 = Annotated[
    float, Field(gt=0, le=MAX_QUANTITY, description=_stored("10^9 m3")), THREE_DECIMALS
]
# A capacity of zero is one: nothing may come in.
MaxAmount = Annotated[
    float,
    Field(ge=0, le=MAX_QUANTITY, description=f"At most 1 000 000 000. {_STORED}"),
    THREE_DECIMALS,
]
Price = Annotated[
    float,
    Field(
        ge=-1e7,
        le=1e7,
        description="EUR, between -10 000 000 and 10 000 000, to the cent: more than 2 "
        "decimals are refused.",
    ),
    TWO_DECIMALS,
]
# Distances in km kept in `Numeric(8, 3)` columns, to the metre.
Kilometres = Annotated[float, Field(description=_STORED), THREE_DECIMALS]


_UNIT = "kg, t (tonnes), m3 (cubic metres) or piece (a piece needs its mass for anything that moves it)."


class Quantity(InputModel):
    """An amount and its unit."""

    value: Amount = Field(examples=[12])
    unit: Unit = Field(description=_UNIT, examples=["t"])


class StoredQuantity(BaseModel):
    """A quantity as stored and read back."""

    value: float = Field(description="The amount, to 3 decimals.", examples=[12.0])
    unit: Unit = Field(description=_UNIT, examples=["t"])


class Remaining(BaseModel):
    """What is left of a quantity once matches reserved their part; may reach zero."""

    value: float = Field(
        ge=0, description="What is not yet reserved, to 3 decimals; 0 or more.", examples=[7.0]
    )
    unit: Unit = Field(description="The unit of the listing's quantity.", examples=["t"])


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
