"""What the geocoder reads of the OSM extract, by osmium-tool: named highways, everything with a
house number, and the administrative areas that carry postcodes; as plain rows."""

import json
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.geocoding.housenumbers import tagged_keys

OSM_FILE = Path("data/osm/brussels_capital_region_2013-01-01.osm.pbf")
_FILTERS = ("w/highway", "nwr/addr:housenumber", "r/boundary=administrative,postal_code")
# An associatedStreet relation names the street of its `house` members, which then need no
# addr:street of their own (the way some of the extract's buildings were mapped).
_STREET_RELATIONS = "r/type=associatedStreet,street"
_OPL_ESCAPE = re.compile(r"%([0-9a-f]+)%")
_KIND_OF_MEMBER = {"n": "node", "w": "way", "r": "relation"}
# Brussels streets are named "<French> - <Dutch>" when name:fr and name:nl are missing.
_BILINGUAL = " - "


@dataclass(frozen=True)
class StreetWay:
    osm_id: int
    name: str
    name_fr: str | None
    name_nl: str | None
    plain: str | None  # the name when it is in neither language's tag nor split in two
    geojson: str


@dataclass(frozen=True)
class AddressFeature:
    osm_type: str
    osm_id: int
    housenumber: str
    number_key: str
    street: str
    postcode: str | None
    geojson: str


@dataclass(frozen=True)
class PostalArea:
    osm_id: int
    postcodes: str  # as tagged: "1040" or, for the City of Brussels, "1000;1020;1040;1120;1130"
    geojson: str


@dataclass
class Extract:
    ways: list[StreetWay]
    addresses: list[AddressFeature]
    areas: list[PostalArea]
    # Features with a house number but no street (no addr:street, no street relation), left
    # out: the nearest street is the wrong one at every corner.
    without_street: int = 0


def read_extract(shared_dir: Path) -> Extract:
    with tempfile.TemporaryDirectory() as folder:
        filtered = Path(folder) / "geocoding.osm.pbf"
        features = Path(folder) / "geocoding.geojsonseq"
        subprocess.run(
            [
                *("osmium", "tags-filter", str(shared_dir / OSM_FILE), *_FILTERS),
                *("-o", str(filtered), "--overwrite"),
            ],
            check=True,
        )
        subprocess.run(
            [
                *("osmium", "export", str(filtered), "-f", "geojsonseq", "-a", "type,id"),
                *("-o", str(features), "--overwrite"),
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        # Relations are exported only as areas: the streets' relations are read as OPL.
        relations = subprocess.run(
            [
                *("osmium", "tags-filter", "--omit-referenced", str(shared_dir / OSM_FILE)),
                *(_STREET_RELATIONS, "-f", "opl", "-o", "-"),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return _classify(_features(features), _streets_of_houses(relations))


def _features(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            # geojsonseq (RFC 8142) starts each record with a record separator.
            line = line.lstrip("\x1e").strip()
            if line:
                yield json.loads(line)


def _streets_of_houses(opl: str) -> dict[tuple[str, int], str]:
    """The street named by a street relation of each of its `house` members, from osmium's
    OPL: `r<id> ... T<key>=<value>,... M<n|w|r><id>@<role>,...`, text escaped as %<hex>%."""
    streets: dict[tuple[str, int], str] = {}
    for line in opl.splitlines():
        fields = {field[:1]: field[1:] for field in line.split(" ")}
        tags = dict(tag.split("=", 1) for tag in fields.get("T", "").split(",") if "=" in tag)
        name = _OPL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), tags.get("name", "")).strip()
        if not name:
            continue
        for member in fields.get("M", "").split(","):
            reference, _, role = member.partition("@")
            if role == "house" and reference[:1] in _KIND_OF_MEMBER:
                streets.setdefault((_KIND_OF_MEMBER[reference[:1]], int(reference[1:])), name)
    return streets


def _classify(
    features: Iterator[dict[str, Any]], streets_of_houses: dict[tuple[str, int], str]
) -> Extract:
    extract = Extract([], [], [])
    # A closed building way comes out twice, as a line and as an area: the area is kept.
    addresses: dict[tuple[str, int], dict[str, Any]] = {}
    for feature in features:
        tags = feature["properties"]
        kind, geometry = tags["@type"], feature["geometry"]["type"]
        if kind == "way" and "highway" in tags and "name" in tags and geometry == "LineString":
            extract.ways.append(_street_way(tags, json.dumps(feature["geometry"])))
        if "addr:housenumber" in tags:
            key = (kind, int(tags["@id"]))
            if key not in addresses or geometry.endswith("Polygon"):
                addresses[key] = feature
        postcodes = tags.get("postal_code") or tags.get("addr:postcode")
        if kind == "relation" and tags.get("boundary") and postcodes and "Polygon" in geometry:
            extract.areas.append(
                PostalArea(int(tags["@id"]), postcodes, json.dumps(feature["geometry"]))
            )
    for (kind, osm_id), feature in sorted(addresses.items()):
        tags = feature["properties"]
        street = tags.get("addr:street") or streets_of_houses.get((kind, osm_id))
        if not street:
            extract.without_street += 1
            continue
        for number in tagged_keys(tags["addr:housenumber"]):
            extract.addresses.append(
                AddressFeature(
                    osm_type=kind,
                    osm_id=osm_id,
                    housenumber=tags["addr:housenumber"].strip(),
                    number_key=number,
                    street=street.strip(),
                    postcode=tags.get("addr:postcode") or tags.get("postal_code"),
                    geojson=json.dumps(feature["geometry"]),
                )
            )
    return extract


def _street_way(tags: dict[str, Any], geojson: str) -> StreetWay:
    name = tags["name"].strip()
    name_fr, name_nl = tags.get("name:fr"), tags.get("name:nl")
    halves = [half.strip() for half in name.split(_BILINGUAL)]
    if len(halves) == 2 and all(halves):
        name_fr, name_nl = name_fr or halves[0], name_nl or halves[1]
    plain = None if (name_fr or name_nl) else name
    return StreetWay(int(tags["@id"]), name, name_fr, name_nl, plain, geojson)
