from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from app.kit.geo import Point

ATTRIBUTION = "© OpenStreetMap contributors (ODbL), the Brussels extract of 2013-01-01"


class Precision(StrEnum):
    """What the point stands for, from the most precise: the door of the house number; where
    the number falls between the known doors of its side of the street; the street (its middle,
    when the number is unknown or none was given); the postcode (a point on its streets, when
    no street was recognised)."""

    house_number = "house_number"
    interpolated = "interpolated"
    street = "street"
    postcode = "postcode"


class ReadAddress(BaseModel):
    """How the text was read."""

    street: str | None = Field(
        description="The street's words, unaccented and in lower case, abbreviations written "
        "out (`Av.` avenue, `Bd` boulevard, `Chée` chaussée, `str.` -straat).",
        examples=["rue de brabant"],
    )
    housenumber: str | None = Field(description="The house number read.", examples=["62"])
    postcode: str | None = Field(description="The postcode read (1000 to 1299).", examples=["1210"])


class Place(BaseModel):
    """One place an address may mean."""

    point: Point = Field(description="Where: the door, the street's middle or the postcode's.")
    precision: Precision = Field(
        description="`house_number`: the door; `interpolated`: between the nearest known doors "
        "of the number's side of the street, below and above it (at most 300 m apart); "
        "`street`: the street's middle (its number unknown on it, or none given); `postcode`: a "
        "point on the postcode's streets (no street known)."
    )
    label: str = Field(
        description="The place as a delivery label, in the language of the street's name that "
        "matched (French when it has one name).",
        examples=["Rue Neuve 111, 1000 Bruxelles"],
    )
    street: str | None = Field(description="The street's name in that language.")
    housenumber: str | None = Field(
        description="The house number found on the street (or placed between its neighbours)."
    )
    postcode: str | None = Field(
        description="The door's postcode, else the street's.", examples=["1000"]
    )
    commune: str | None = Field(description="The commune's name in that language.")
    language: Literal["fr", "nl"] | None = Field(
        description="The language of the street's name that matched; null when the street has "
        "one name for both."
    )
    score: float = Field(
        ge=0,
        le=1,
        description="How like the text the street's name is (trigram similarity, 1 for the same "
        "words), times 0.85 when the postcode read is another one. 1 for a postcode alone.",
    )


class GeocodeResult(BaseModel):
    """What an address means: the best place found, and the others it may mean."""

    query: str = Field(description="The text asked for.")
    read: ReadAddress = Field(description="How the text was read: street, number, postcode.")
    match: Place | None = Field(
        description="The best place, when the text names a known street (score at least 0.5) "
        "or at least a known postcode; null otherwise."
    )
    suggestions: list[Place] = Field(
        description="Up to 5 other places the text may mean, best first: other streets of like "
        "names (in other postcodes, or spelt alike)."
    )
    needs_attention: bool = Field(
        description="True when the address is known only to its postcode, or not at all: a "
        'delivery there needs someone to check it (show the suggestions as "did you mean").'
    )
    attribution: str = Field(default=ATTRIBUTION, description="Whose data the places are.")
