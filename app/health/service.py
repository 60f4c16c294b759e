from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.least_privilege import PrivilegedDatabaseRole
from app.settings import PROJECT_ROOT


def migration_head() -> str | None:
    script = ScriptDirectory.from_config(Config(str(PROJECT_ROOT / "alembic.ini")))
    return script.get_current_head()


async def readiness(session: AsyncSession, head: str | None) -> dict[str, object]:
    """Whether the database answers and its schema is at the migrations' head."""
    try:
        current = (
            await session.execute(text("SELECT version_num FROM alembic_version"))
        ).scalar_one_or_none()
    except PrivilegedDatabaseRole:
        return {"ready": False, "database": "connected as a privileged role: see the log"}
    except SQLAlchemyError as exc:
        return {
            "ready": False,
            "database": "unreachable or not migrated",
            "error": type(exc).__name__,
        }
    return {
        "ready": current == head,
        "database": "reachable",
        "migration": current,
        "migration_head": head,
    }
