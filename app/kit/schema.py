"""The rules every input follows, whatever the route: no NaN or Infinity, no control
characters in strings, and numbers no finer than the column that stores them."""

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from app.kit.problems import ValidationFailed

# C0 control characters but tab, line feed and carriage return. PostgreSQL cannot store NUL
# in text at all; the others are never meant in a name, a note or a code.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CONTROL_RULE = "no_control_characters"
CONTROL_MESSAGE = "must not contain control characters (NUL, U+0001-U+001F but tab and newlines)"


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


def _plain_strings(value: Any) -> Any:
    strings = value if isinstance(value, list | tuple) else [value]
    if any(isinstance(s, str) and has_control_characters(s) for s in strings):
        raise PydanticCustomError(CONTROL_RULE, CONTROL_MESSAGE)
    return value


class InputModel(BaseModel):
    """The base of every request body: a number is finite, a string has no control
    characters, and a field the body does not have is refused, not ignored: a typo
    (`available_untill`) would otherwise leave the field it meant unset (nested bodies are
    InputModels too, and check their own fields)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        return _plain_strings(value)


async def _plain_parameters(request: Request) -> None:
    for location, parameters in (
        ("path", request.path_params.items()),
        ("query", request.query_params.multi_items()),
    ):
        for name, value in parameters:
            if isinstance(value, str) and has_control_characters(value):
                raise ValidationFailed.field(name, CONTROL_RULE, CONTROL_MESSAGE, location)


# The same rule for the path and query parameters of every route (the app's dependencies).
PlainParameters = Depends(_plain_parameters)


def decimals(places: int) -> AfterValidator:
    """A number as a `Numeric(p, places)` column keeps it: a multiple of 10^-places, up to
    float rounding (0.1 + 0.2 passes, as 0.3). Finer values, and so positive values below
    10^-places, are refused rather than rounded away."""
    step = 10.0**-places

    def check(value: float) -> float:
        nearest = round(value, places)
        # A value too small for the column would be stored as 0.
        if abs(value - nearest) > max(step * 1e-6, 4 * math.ulp(value)) or (
            nearest == 0 and value != 0
        ):
            raise PydanticCustomError(
                "multiple_of",
                "must be a multiple of {step}: it is stored with {places} decimals",
                {"step": f"{step:g}", "places": places},
            )
        return nearest

    return AfterValidator(check)


# Quantities, masses, volumes, distances in km: `Numeric(16, 3)` and `Numeric(8, 3)` columns.
THREE_DECIMALS = decimals(3)
# Prices: `Numeric(12, 2)` columns.
TWO_DECIMALS = decimals(2)


def _on_the_calendar_in_utc(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_range", "must fall between the years 1 and 9999 in UTC too"
        ) from None
    return value


# A date and time with its zone, that stays a date and time in UTC (as it is stored):
# 0001-01-01T00:00+01:00 is the year 0 there.
ZonedDateTime = Annotated[AwareDatetime, AfterValidator(_on_the_calendar_in_utc)]
