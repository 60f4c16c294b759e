"""The answers of the statistics an API process keeps: an answer over published months is the
same until one of its months is published again or the reference data it names is loaded
again, so it is written once and sent as it is while both are what it was written from.

Each process keeps its own and checks each one on every read against the database (one
statement, `repository.publication_state_alone`): a month published again in any process, or
by the sweep, is read anew by every process at its next read."""

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from cachetools import LRUCache
from fastapi import Request

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


class KeptAnswers:
    """The answers read last, each with the state it was written from, up to `max_bytes` of
    them (an answer larger than that is not kept)."""

    def __init__(self, max_bytes: int = MAX_KEPT_BYTES) -> None:
        self._answers: LRUCache[Question, tuple[PublicationState, Answer]] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda kept: len(kept[1].body)
        )

    def get(self, question: Question, state: PublicationState) -> Answer | None:
        kept = self._answers.get(question)
        if kept is None or kept[0] != state:
            return None
        return kept[1]

    def keep(self, question: Question, state: PublicationState, answer: Answer) -> None:
        try:
            self._answers[question] = (state, answer)
        except ValueError:  # larger than all the answers kept may be
            self._answers.pop(question, None)


async def kept_answers(request: Request) -> KeptAnswers:
    """The process's kept answers (one set per app: a test's app and its database go
    together)."""
    state = request.app.state
    kept: KeptAnswers | None = getattr(state, "kept_stats_answers", None)
    if kept is None:
        kept = state.kept_stats_answers = KeptAnswers()
    return kept
