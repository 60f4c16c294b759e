"""The sweep: a pending delivery is always owned by a queued or running attempt; the periodic
sweep gives one again to each pending delivery whose job was lost."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.webhooks.attempts import DELIVER, queue_attempt

REQUEUE_ORPHANED_DELIVERIES = "webhooks:requeue_orphaned_deliveries"


# Pending deliveries that no job will attempt: their job ran out of retries (the database was
# away each time), or was lost some other way.
_ORPHANED = text(
    """
    SELECT d.id FROM webhook_deliveries d
    WHERE d.status = 'pending' AND NOT EXISTS (
        SELECT 1 FROM procrastinate_jobs j
        WHERE j.task_name = :task AND j.status IN ('todo', 'doing')
          AND j.args->>'delivery_id' = d.id::text)
    """
)


async def requeue_orphaned_deliveries(session: AsyncSession) -> int:
    """Gives every pending delivery a queued attempt again (the periodic sweep): a pending
    delivery is always owned by a job. Answers how many it queued."""
    orphans = list((await session.scalars(_ORPHANED, {"task": DELIVER.name})).all())
    for delivery_id in orphans:
        await queue_attempt(session, delivery_id)
    await session.flush()
    return len(orphans)
