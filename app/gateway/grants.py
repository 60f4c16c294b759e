"""The requests an API process may serve without asking the database.

The rate limit's statement counts a request and looks its key up (`app.gateway.rate_limit`).
When a caller comes back to the same process, that statement also reserves up to
`rate_limit_reserve` requests more of the caller's window: they are counted in the database at
once, and this process serves them on its own, with the key as that statement found it, until
they are used or the window ends. A busy key makes one statement every few requests instead of
one each; the counts in PostgreSQL stay ahead of the requests served, so that no process ever
lets a caller past its limit. What a reserve costs: a caller whose requests stop coming to one
process and go to another may be refused up to that many requests early, per process, in that
window. Near the limit the reserve shrinks (a quarter of what is left, shared among the
processes), and with a low limit it is none: every request asks.

A key kept this way must not outlive its revocation: reserves are used only while the process
listens to the database's notifications of changed keys (`app.kit.notifications`), and each
notification, and each loss of the listening connection, forgets them all. The process that
revokes a key forgets them itself before the revocation commits."""

import math
import time
from dataclasses import dataclass, replace

from cachetools import TTLCache

from app.auth import ActiveKey
from app.kit.notifications import PRINCIPALS, Notifications
from app.settings import Settings

# Callers kept at most: past it, the least recently kept are forgotten (and ask again).
_KEPT_CALLERS = 10_000


@dataclass
class Grant:
    """What a process keeps of a caller in one window: its policy and key, the highest count
    of the window it has seen, and the counts reserved for it that it has not served yet."""

    policy: str
    key: ActiveKey | None
    known: int
    # Ranges of counts, [first, last] each: two requests of one caller may reserve at once.
    reserved: list[list[int]]
    # When the window ends, on this process's monotonic clock.
    window_ends: float

    def take(self) -> int:
        """The next reserved count, taken."""
        first = self.reserved[0]
        count = first[0]
        first[0] += 1
        if first[0] > first[1]:
            del self.reserved[0]
        self.known = max(self.known, count)
        return count


@dataclass(frozen=True)
class Served:
    """A request served from a reserve: its count in the window and its caller's key."""

    policy: str
    key: ActiveKey | None
    requests: int
    seconds_left: int


class Grants:
    """The reserves of one API process, by caller (a key's hash, the admin, an address)."""

    def __init__(self, settings: Settings, notifications: Notifications) -> None:
        self.reserve = settings.rate_limit_reserve
        self.limit = settings.rate_limit_requests
        # A quarter of what is left, shared among the processes.
        self.share = 4 * settings.api_process_count
        self._kept: TTLCache[str, Grant] = TTLCache(
            maxsize=_KEPT_CALLERS, ttl=settings.rate_limit_window_seconds
        )
        self._notifications = notifications
        notifications.on(PRINCIPALS, self.forget_all)
        # Moves on with each change heard: a lookup made before it is not kept.
        self.generation = 0

    @property
    def listening(self) -> bool:
        """Whether the process hears of every change of a key now."""
        return self._notifications.listening

    def forget_all(self) -> None:
        self._kept.clear()
        self.generation += 1

    def serve(self, caller: str) -> Served | None:
        """This request, served from `caller`'s reserve if it has one left in its window."""
        grant = self._kept.get(caller)
        now = time.monotonic()
        if not self.listening or grant is None or not grant.reserved or now >= grant.window_ends:
            return None
        seconds_left = max(1, math.ceil(grant.window_ends - now))
        return Served(grant.policy, grant.key, grant.take(), seconds_left)

    def to_reserve(self, caller: str) -> int:
        """How many requests to reserve beyond this one: none for a caller this process has not
        served yet (a wrong key, tried once, reserves nothing of its address's count), and
        none near the limit."""
        grant = self._kept.get(caller)
        if not self.listening or not self.reserve or grant is None:
            return 0
        return max(0, min(self.reserve, (self.limit - grant.known) // self.share))

    def keep(
        self,
        caller: str,
        generation: int,
        policy: str,
        key: ActiveKey | None,
        requests: int,
        reserved: int,
        window_left_s: float,
    ) -> None:
        """What the count of a request (number `requests` of its window) found, with
        `reserved` requests more counted for this process, unless a change was heard since
        its lookup began."""
        if generation != self.generation:
            return
        usable = max(0, min(reserved, self.limit - requests))
        ranges = [[requests + 1, requests + usable]] if usable else []
        now = time.monotonic()
        kept = self._kept.get(caller)
        if kept is not None and now < kept.window_ends and _same_key(kept.key, key):
            # The same window (another request of the caller counted meanwhile).
            kept.reserved.extend(ranges)
            kept.known = max(kept.known, requests)
            return
        # The requests it serves on its own do not write the key's `last_used_at`: this one did.
        kept_key = None if key is None else replace(key, stale_use=False)
        self._kept[caller] = Grant(policy, kept_key, requests, ranges, now + window_left_s)


def _same_key(kept: ActiveKey | None, key: ActiveKey | None) -> bool:
    if kept is None or key is None:
        return kept is None and key is None
    return kept.id == key.id
