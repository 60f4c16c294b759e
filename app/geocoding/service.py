"""Geocoding: a free-text Brussels address to a point, how precise it is, and what else it may
mean. `geocode` is what other domains call (a delivery's quote checks its address with it)."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.geocoding import repository
from app.geocoding.address_text import read_address
from app.geocoding.repository import AddressRow, StreetRow
from app.geocoding.schemas import GeocodeResult, Place, Precision, ReadAddress
from app.kit.geo import Point
from app.kit.problems import ValidationFailed

# A street whose name is at least this like the text is taken as the one meant; below, it is
# only suggested. Typos ("Rue de Brabnat") stay above, other streets sharing a word fall below.
MATCHED = 0.5
SUGGESTIONS = 5
# Streets read from the database for one text: the ranking keeps the best of them.
CANDIDATES = 40


async def geocode(
    session: AsyncSession, text: str, *, field: str = "q", location: str = "query"
) -> GeocodeResult:
    """The best place for `text`, its suggestions, and whether a delivery there needs a look.
    Raises ValidationFailed with the rule `address` on `field` (where the caller took the text
    from: `q` of the query here, a delivery's address in a body elsewhere) for a text that
    names no street and no postcode."""
    address = read_address(text)
    if not address.street and address.postcode is None:
        raise ValidationFailed.field(
            field,
            "address",
            f"{field} names no street and no postcode: write a Brussels address, e.g. "
            "'Rue Neuve 111, 1000 Bruxelles'.",
            location=location,
        )
    read = ReadAddress(
        street=address.street or None, housenumber=address.housenumber, postcode=address.postcode
    )
    places: list[Place] = []
    if address.street:
        streets = await repository.streets_like(
            session, address.street, address.postcode, CANDIDATES
        )
        ids = [s.street_id for s in streets]
        doors: dict[int, AddressRow] = {}
        between: dict[int, AddressRow] = {}
        if address.housenumber is not None:
            doors = await repository.numbers_on(session, ids, address.housenumber)
            if address.housenumber.isdigit():
                missing = [i for i in ids if i not in doors]
                between = await repository.between_numbers_on(
                    session, missing, int(address.housenumber)
                )
        # Of streets as like the text, the one with the door asked for first, then the one
        # where it falls between known doors: a street cut in two by a postcode boundary has
        # its numbers on one of its parts.
        streets.sort(
            key=lambda s: (-round(s.score, 6), s.street_id not in doors, s.street_id not in between)
        )
        # Two parts of one street (cut by a commune's boundary, or spelt two ways in Dutch)
        # read the same to a customer: the best stands for both.
        labels: set[str] = set()
        for street in streets:
            if street.street_id in doors:
                place = _street_place(street, doors[street.street_id], Precision.house_number)
            elif street.street_id in between:
                place = _street_place(street, between[street.street_id], Precision.interpolated)
            else:
                place = _street_place(street, None, Precision.street)
            if place.label not in labels:
                labels.add(place.label)
                places.append(place)
    match: Place | None = None
    if places and places[0].score >= MATCHED:
        match, suggestions = places[0], places[1:]
    else:
        suggestions = places
        if address.postcode is not None:
            match = await _postcode_place(session, address.postcode)
    return GeocodeResult(
        query=text,
        read=read,
        match=match,
        suggestions=suggestions[:SUGGESTIONS],
        needs_attention=match is None or match.precision is Precision.postcode,
    )


def _street_place(street: StreetRow, door: AddressRow | None, precision: Precision) -> Place:
    language = street.language if street.language in ("fr", "nl") else None
    name = {"fr": street.name_fr, "nl": street.name_nl}.get(language or "") or street.spelling
    commune = street.commune_nl if language == "nl" else street.commune_fr
    number = door.number_key if door is not None else None
    postcode = (door.postcode if door is not None else None) or street.postcode
    lon, lat = (door.lon, door.lat) if door is not None else (street.lon, street.lat)
    where = " ".join(part for part in (postcode, commune) if part)
    label = f"{name} {number}" if number else name
    return Place(
        point=Point.model_validate(Point.fields_of(lon, lat)),
        precision=precision,
        label=f"{label}, {where}" if where else label,
        street=name,
        housenumber=number,
        postcode=postcode,
        commune=commune,
        language=language,
        score=round(min(street.score, 1.0), 3),
    )


async def _postcode_place(session: AsyncSession, postcode: str) -> Place | None:
    place = await repository.postcode_place(session, postcode)
    if place is None:
        return None
    label = " ".join(part for part in (place.postcode, place.commune_fr) if part)
    return Place(
        point=Point.model_validate(Point.fields_of(place.lon, place.lat)),
        precision=Precision.postcode,
        label=label,
        street=None,
        housenumber=None,
        postcode=place.postcode,
        commune=place.commune_fr,
        language=None,
        score=1.0,
    )
