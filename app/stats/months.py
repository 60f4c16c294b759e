"""The months the statistics are published by: `YYYY-MM` in Brussels time, each a `date` of
its first day here, and only months that have ended (a month in progress could be differenced
day by day)."""

import re
from datetime import date

from app.kit.problems import ValidationFailed

_MONTH = re.compile(r"(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])")
# The most months one answer holds: each month read for the first time is computed then.
MAX_MONTHS = 60


def month_text(month: date) -> str:
    return month.strftime("%Y-%m")


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def last_ended_month(today: date) -> date:
    """The month before the one `today` (a day in Brussels) is in."""
    return date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)


def months_from(first: date, last: date) -> list[date]:
    months = [first]
    while months[-1] < last:
        months.append(next_month(months[-1]))
    return months


def parse_month(field: str, raw: str) -> date:
    found = _MONTH.fullmatch(raw.strip())
    if found is None or found["year"] == "0000":
        raise ValidationFailed.field(
            field,
            "month",
            f"`{field}` is a month, YYYY-MM (such as 2026-11); {raw!r} is not one.",
            "query",
        )
    return date(int(found["year"]), int(found["month"]), 1)


def published_range(since: str | None, until: str | None, today: date) -> tuple[date, date]:
    """The months asked for, `from` to `to` (both by default the last month that has ended),
    all of them ended in Brussels, at most MAX_MONTHS of them."""
    latest = last_ended_month(today)
    last = parse_month("to", until) if until is not None else latest
    first = parse_month("from", since) if since is not None else last
    for field, month in (("to", last), ("from", first)):
        if month > latest:
            raise ValidationFailed.field(
                field,
                "ended_month",
                f"`{field}` must be a month that has ended in Brussels: {month_text(month)} "
                f"has not; the latest published month is {month_text(latest)}.",
                "query",
            )
    if last < first:
        raise ValidationFailed.field(
            "to", "not_before_from", "`to` is the last month counted: not before `from`.", "query"
        )
    if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
        raise ValidationFailed.field(
            "to",
            "at_most_months",
            f"One answer holds at most {MAX_MONTHS} months: ask for the others separately.",
            "query",
        )
    return first, last
