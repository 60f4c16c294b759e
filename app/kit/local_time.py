"""Brussels time: the day a user in Brussels calls today, whatever the server's time zone."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")


def brussels_today() -> date:
    return datetime.now(BRUSSELS).date()
