"""A service's slots as moments: each weekday it rides, each slot of its day, in Brussels time
(so a slot keeps its local hours across the changes of summer time), answered in UTC as every
moment the API stores."""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from app.kit.local_time import BRUSSELS


@dataclass(frozen=True)
class SlotTime:
    starts_at: datetime
    ends_at: datetime
    cutoff_at: datetime


def stored_slot(start: time, end: time, cutoff_before: timedelta) -> dict[str, Any]:
    """A slot as `delivery_services.slots` keeps it."""
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "cutoff_before_s": int(cutoff_before.total_seconds()),
    }


def slot_times(
    weekdays: list[int], slots: list[dict[str, Any]], earliest: datetime, latest: datetime
) -> list[SlotTime]:
    """The slots of a service (`weekdays`, `slots` as stored) that overlap [earliest, latest],
    soonest first."""
    found = []
    day = earliest.astimezone(BRUSSELS).date()
    last_day = latest.astimezone(BRUSSELS).date()
    while day <= last_day:
        if day.isoweekday() in weekdays:
            for slot in slots:
                starts_at = datetime.combine(day, time.fromisoformat(slot["start"]), BRUSSELS)
                ends_at = datetime.combine(day, time.fromisoformat(slot["end"]), BRUSSELS)
                if starts_at < latest and ends_at > earliest:
                    cutoff_at = starts_at - timedelta(seconds=slot["cutoff_before_s"])
                    found.append(
                        SlotTime(*(t.astimezone(UTC) for t in (starts_at, ends_at, cutoff_at)))
                    )
        day += timedelta(days=1)
    return sorted(found, key=lambda s: s.starts_at)
