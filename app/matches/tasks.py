"""Jobs of the match lifecycle."""

from datetime import UTC, datetime

from procrastinate import Blueprint, JobContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.matches.service import expire_stale_matches

blueprint = Blueprint()


# Every hour, at minute 5, in whichever worker takes it.
@blueprint.periodic(cron="5 * * * *")
@blueprint.task(
    name="expire_stale_matches", pass_context=True, queueing_lock="expire_stale_matches"
)
async def expire_matches(context: JobContext, timestamp: int) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    async with sessionmaker() as session:
        await expire_stale_matches(session, datetime.fromtimestamp(timestamp, UTC).date())
