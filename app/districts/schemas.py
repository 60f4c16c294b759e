from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.kit.geo import GeoFeature

OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"

# [longitude, latitude]: a list rather than a tuple, whose `prefixItems` some OpenAPI tools
# cannot read in a schema given in place.
Position = Annotated[list[float], Field(min_length=2, max_length=2)]


class DistrictOutline(BaseModel):
    """A district's outline as RFC 7946 wants it: WGS84 [longitude, latitude] to the 6th
    decimal, exterior rings counterclockwise."""

    type: Literal["MultiPolygon"] = Field(description="Always `MultiPolygon`.")
    coordinates: list[list[list[Position]]] = Field(
        description="The polygons, each its rings (the first the exterior)."
    )


class DistrictProperties(BaseModel):
    slug: str = Field(
        description="The district's name in plain words, the same at every load of the OSM "
        "extract: `GET /v1/districts/{slug}`.",
        examples=["rue-neuve-nieuwstraat"],
    )
    name: str = Field(
        description="The street most of its shopfronts face, as OpenStreetMap names it "
        "(both languages, as the street signs of Brussels).",
        examples=["Rue Neuve - Nieuwstraat"],
    )
    name_fr: str | None = Field(
        description="The street's French name, when OpenStreetMap gives it.",
        examples=["Rue Neuve"],
    )
    name_nl: str | None = Field(
        description="The street's Dutch name, when OpenStreetMap gives it.",
        examples=["Nieuwstraat"],
    )
    commune: str = Field(
        description="The NIS code of the commune holding most of its shopfronts.",
        examples=["21004"],
    )
    commune_name: str = Field(
        description="That commune's name.", examples=["Ville de Bruxelles - Stad Brussel"]
    )
    shop_count: int = Field(
        description="Its shops (`shop=*` in OpenStreetMap).", ge=0, examples=[4]
    )
    shopfront_count: int = Field(
        description="Its shopfronts: the shops, and the cafés, restaurants, pharmacies, banks "
        "and markets among them, which make the district with them.",
        ge=0,
        examples=[9],
    )
    area_m2: float = Field(description="Its area in square metres.", ge=0, examples=[31250.4])
    distance_m: float | None = Field(
        description="Metres from `near` to its outline (0 inside it; to the decimetre, on the "
        "ellipsoid) when the list is ordered by distance; null otherwise.",
        examples=[0.0],
    )


class DistrictFeature(GeoFeature[DistrictOutline, DistrictProperties]):
    """A shopping district: its outline and what it is."""

    id: str = Field(description="The district's id (a UUID).")


class DistrictFeatureCollection(BaseModel):
    """Every shopping district, by name."""

    type: Literal["FeatureCollection"] = Field(
        default="FeatureCollection", description="Always `FeatureCollection`."
    )
    features: list[DistrictFeature] = Field(
        description="The districts by name, or nearest first from `near`."
    )
    numberReturned: int = Field(description="How many features the collection holds.", ge=0)
    attribution: str = Field(
        default=OSM_ATTRIBUTION, description="The credit the districts' source needs."
    )
