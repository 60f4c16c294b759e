"""Reference data from `shared/`: the European List of Waste, the region's outline and its 19
communes."""

import csv
import json
from pathlib import Path

from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Commune, Material, ServiceArea

EWC_FILE = Path("data/ewc/list_of_waste.csv")
REGION_FILE = Path("data/brussels/region_boundary_osm2013.geojson")
COMMUNES_FILE = Path("data/brussels/communes_19_osm2013.geojson")
REGION_NAME = "brussels-capital-region"


async def load_materials(session: AsyncSession, shared_dir: Path) -> int:
    with (shared_dir / EWC_FILE).open(encoding="utf-8", newline="") as f:
        rows = [
            {
                **{
                    k: row[k]
                    for k in (
                        "code",
                        "display",
                        "chapter",
                        "subchapter",
                        "description",
                        "chapter_title",
                        "subchapter_title",
                        "entry_type",
                    )
                },
                "hazardous": row["hazardous"] == "true",
            }
            for row in csv.DictReader(f)
        ]
    statement = insert(Material).values(rows)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Material.code],
            set_={c: statement.excluded[c] for c in rows[0] if c != "code"},
        )
    )
    return len(rows)


async def load_service_area(session: AsyncSession, shared_dir: Path) -> None:
    collection = json.loads((shared_dir / REGION_FILE).read_text(encoding="utf-8"))
    geometry = json.dumps(collection["features"][0]["geometry"])
    statement = insert(ServiceArea).values(
        name=REGION_NAME,
        geom=func.ST_Multi(func.ST_SetSRID(func.ST_GeomFromGeoJSON(geometry), 4326)),
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ServiceArea.name], set_={"geom": statement.excluded.geom}
        )
    )


async def load_communes(session: AsyncSession, shared_dir: Path) -> None:
    collection = json.loads((shared_dir / COMMUNES_FILE).read_text(encoding="utf-8"))
    rows = [
        {
            "nis_code": feature["properties"]["nis_code"],
            "name": feature["properties"]["name"],
            # Ganshoren and Koekelberg bear one name in both languages.
            "name_fr": feature["properties"]["name_fr"] or feature["properties"]["name"],
            "name_nl": feature["properties"]["name_nl"] or feature["properties"]["name"],
            "geom": func.ST_Multi(
                func.ST_SetSRID(func.ST_GeomFromGeoJSON(json.dumps(feature["geometry"])), 4326)
            ),
        }
        for feature in collection["features"]
    ]
    statement = insert(Commune).values(rows)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Commune.nis_code],
            set_={c: statement.excluded[c] for c in ("name", "name_fr", "name_nl", "geom")},
        )
    )


async def load_reference_data(session: AsyncSession, shared_dir: Path) -> int:
    count = await load_materials(session, shared_dir)
    await load_service_area(session, shared_dir)
    await load_communes(session, shared_dir)
    await session.execute(text("ANALYZE materials"))
    return count
