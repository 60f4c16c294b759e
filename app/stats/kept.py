"""The answers of the statistics an API process keeps: an answer over published months is the
same until one of its months is published again or the reference data it names is loaded
again, so it is written once and sent as it is while both are what it was written from.

Each process keeps its own. While it listens to the database's notifications
(`app.kit.notifications`), which triggers send as a month is published (again) or the
reference data loaded again, an answer is sent as it is until the process hears one; after one
(or whenever it was not listening), the next read of each answer checks it against the database
(one statement, `repository.publication_state_alone`) and sends it again if it still holds. A
month published again in any process, or by the sweep, is read anew by every process once it
hears of it, milliseconds after the commit."""

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from cachetools import LRUCache
from fastapi import Request

from app.kit.notifications import PUBLICATIONS, Notifications

# The bytes of the answers a process keeps at most: a year by commune is some 80 KB as JSON
# and some 700 KB as GeoJSON (each commune's outline once per month).
MAX_KEPT_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class PublicationState:
    """What an answer is written from: the publication of each of its months that is
    published, and the edition of the reference data (None when there is none to compare)."""

    publications: tuple[tuple[date, UUID], ...]
    edition: UUID | None

    def covers(self, months: list[date]) -> bool:
        return self.edition is not None and [m for m, _ in self.publications] == months


@dataclass(frozen=True)
class Answer:
    body: bytes
    media_type: str


# The question: group_by, material level, first and last month, format.
Question = tuple[object, ...]


@dataclass
class _Kept:
    state: PublicationState
    answer: Answer
    # The process's generation of publications it was last known to hold in.
    generation: int


class KeptAnswers:
    """The answers read last, each with the state it was written from, up to `max_bytes` of
    them (an answer larger than that is not kept)."""

    def __init__(self, notifications: Notifications, max_bytes: int = MAX_KEPT_BYTES) -> None:
        self._answers: LRUCache[Question, _Kept] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda kept: len(kept.answer.body)
        )
        self._notifications = notifications
        # Moves on with each publication heard: an answer known to hold before it is checked.
        self.generation = 0
        notifications.on(PUBLICATIONS, self._heard)

    def _heard(self) -> None:
        self.generation += 1

    def unchanged(self, question: Question) -> Answer | None:
        """The answer kept for `question` when nothing was published since it was known to
        hold, as the process has heard without a break: no statement needed."""
        kept = self._answers.get(question)
        if kept is None or not self._notifications.listening or kept.generation != self.generation:
            return None
        return kept.answer

    def get(self, question: Question, state: PublicationState, generation: int) -> Answer | None:
        """The answer kept for `question` if it was written from `state`, read at `generation`
        (then known to hold until the next publication heard)."""
        kept = self._answers.get(question)
        if kept is None or kept.state != state:
            return None
        kept.generation = generation
        return kept.answer

    def keep(
        self, question: Question, state: PublicationState, answer: Answer, generation: int
    ) -> None:
        try:
            self._answers[question] = _Kept(state, answer, generation)
        except ValueError:  # larger than all the answers kept may be
            self._answers.pop(question, None)


async def kept_answers(request: Request) -> KeptAnswers:
    """The process's kept answers (one set per app: a test's app and its database go
    together)."""
    kept: KeptAnswers = request.app.state.kept_stats_answers
    return kept
