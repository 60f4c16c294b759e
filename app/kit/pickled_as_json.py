"""Models that cross to a child process (`app.jobs.child_process`) as their JSON, validated
again on arrival: pydantic-core writes and reads a plan's inputs or its result several times
faster than pickle walks their thousands of objects, and what arrives is the typed model."""

from collections.abc import Callable
from typing import Self

from pydantic import BaseModel


class PickledAsJSON(BaseModel):
    def __reduce__(self) -> tuple[Callable[[str], Self], tuple[str]]:
        return (type(self).model_validate_json, (self.model_dump_json(),))
