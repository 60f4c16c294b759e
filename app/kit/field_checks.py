"""The checks of a body that need the database (a site, a material code, a vehicle of one's
own...) run one after the other; a body wrong in two fields is told both at once, in one 422,
rather than one now and the other after the fix."""

from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from app.kit.problems import FieldError, ValidationFailed

T = TypeVar("T")


class FieldChecks:
    """Each check answers what the check answers; when it failed, its fields are kept and it
    answers None, which nothing reads: `raise_failures()` comes before any use."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    async def check(self, checked: Awaitable[T], within: str = "") -> T:
        """`within`: where in the body the checked part is (`vehicles.0`), for its fields."""
        try:
            return await checked
        except ValidationFailed as failed:
            self._keep(failed, within)
            return cast(T, None)

    def check_now(self, checked: Callable[[], T]) -> T:
        try:
            return checked()
        except ValidationFailed as failed:
            self._keep(failed, "")
            return cast(T, None)

    def _keep(self, failed: ValidationFailed, within: str) -> None:
        for error in failed.extensions["errors"]:
            field = f"{within}.{error['field']}" if within else error["field"]
            self.errors.append(
                FieldError(field, error["rule"], error["message"], error["location"])
            )

    def raise_failures(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)
