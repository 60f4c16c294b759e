"""statistics answers kept: each publication of a month and each load of the reference data
named, so that an API process may keep an answer while both are the same

An answer of `/v1/stats/flows` over published months is the same as long as none of its months
is published again (forgotten, `DELETE FROM stats.published_months`, and computed anew) and the
communes and materials it names are those it named. Each process keeps its answers, and checks
them on every read against what it reads in one statement:

- `stats.published_months.publication`, drawn anew for each publication of a month (random: a
  month published again, in whatever transaction, never has the number of its earlier one);
- `stats.reference_edition`, one row, drawn anew by any statement that writes `communes` (names
  and outlines) or `materials` (titles): the loader's upsert, whatever it changes.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFERENCE_TABLES = ("communes", "materials")

NEW_EDITION = """
CREATE FUNCTION stats.new_reference_edition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stats.reference_edition SET edition = gen_random_uuid();
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    # A volatile default: the months already published each draw their own.
    op.execute(
        "ALTER TABLE stats.published_months "
        "ADD COLUMN publication uuid NOT NULL DEFAULT gen_random_uuid()"
    )
    op.execute(
        "CREATE TABLE stats.reference_edition ("
        "one boolean PRIMARY KEY DEFAULT true CHECK (one), "
        "edition uuid NOT NULL DEFAULT gen_random_uuid())"
    )
    op.execute("INSERT INTO stats.reference_edition DEFAULT VALUES")
    op.execute(NEW_EDITION)
    for table in REFERENCE_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_new_edition "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION stats.new_reference_edition()"
        )


def downgrade() -> None:
    for table in REFERENCE_TABLES:
        op.execute(f"DROP TRIGGER {table}_new_edition ON {table}")
    op.execute("DROP FUNCTION stats.new_reference_edition()")
    op.execute("DROP TABLE stats.reference_edition")
    op.execute("ALTER TABLE stats.published_months DROP COLUMN publication")
