"""shopping districts: polygons around the clusters of shops of the OSM extract

`districts` is reference data, (re)made by `python -m app.cli districts` (app.districts.loader):
one row per cluster of shopfronts, named after the street most of them lie on, in the commune
holding most of them. The delivery quotes of the cargo-bike rounds (COMM 12) ask which district
a point lies in. `ogc.districts` publishes them in the open data.

The application's role reads and writes the table by the default privileges of 0014; the open
data's role reads the view alone.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import UUID

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OGC_DISTRICTS = """
CREATE VIEW ogc.districts AS
SELECT d.slug AS id, d.slug, d.name, d.name_fr, d.name_nl, d.commune,
       c.name AS commune_name, d.shop_count, d.shopfront_count, d.area_m2, d.geom
  FROM public.districts d
  JOIN public.communes c ON c.nis_code = d.commune
"""


def upgrade() -> None:
    op.create_table(
        "districts",
        sa.Column(
            "id",
            UUID(as_uuid=True),
            primary_key=True,
            server_default=sa.text("gen_random_uuid()"),
        ),
        sa.Column("slug", sa.String(120), nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_fr", sa.Text),
        sa.Column("name_nl", sa.Text),
        sa.Column("commune", sa.String(5), sa.ForeignKey("communes.nis_code"), nullable=False),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False),
        sa.Column("shop_count", sa.Integer, nullable=False),
        sa.Column("shopfront_count", sa.Integer, nullable=False),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("source", sa.String(10), nullable=False, server_default="osm"),
        sa.CheckConstraint("source IN ('osm')", name="districts_source_known"),
        sa.CheckConstraint("shop_count <= shopfront_count", name="districts_shops_are_shopfronts"),
    )
    op.execute("CREATE INDEX ix_districts_geom ON districts USING gist (geom)")
    op.execute(OGC_DISTRICTS)


def downgrade() -> None:
    op.execute("DROP VIEW ogc.districts")
    op.drop_table("districts")
