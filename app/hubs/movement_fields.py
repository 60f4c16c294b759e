"""Which fields each kind of movement takes."""

from app.errors import ValidationFailed
from app.hubs.schemas import MovementCreate


def refuse_fields(data: MovementCreate, fields: tuple[str, ...], what: str) -> None:
    for field in fields:
        if getattr(data, field) is not None:
            raise ValidationFailed.field(
                field, "not_for_kind", f"{what.capitalize()} has no {field}."
            )


def require_one_of(data: MovementCreate, fields: tuple[str, str], message: str) -> None:
    given = [f for f in fields if getattr(data, f) is not None]
    if len(given) != 1:
        raise ValidationFailed.field(
            fields[0] if not given else fields[1],
            "exactly_one",
            f"{message}: give one of {' or '.join(fields)}.",
        )
