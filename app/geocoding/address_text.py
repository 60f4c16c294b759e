"""A free-text Brussels address read into its parts: street words, house number, postcode.

"Rue de Brabant 62, 1210 Saint-Josse", "Brabantstraat 62 1210 Sint-Joost-ten-Node" and
"62 rue de brabant" all read as the street "rue de brabant" (or "brabantstraat") and the number
62, the first two with the postcode 1210. What follows a postcode (a commune) or a house number
written after the street is not the street's."""

import re
import unicodedata
from dataclasses import dataclass

from app.geocoding.housenumbers import number_key

# The Region's postcodes are 1000 to 1299.
_POSTCODE = re.compile(r"^1[0-2]\d\d$")
# "B-1000" and "B1000" are how some write them.
_COUNTRY_PREFIX = re.compile(r"\bb-?(1\d{3})\b")
_TOKEN = re.compile(r",|[^\s,]+")
_HOUSE_NUMBER = re.compile(r"^\d{1,5}(?:[a-z]|bis|ter)?$")
_NUMBER_SUFFIX = re.compile(r"^(?:[a-z]|bis|ter)$")

# Abbreviations of street kinds as Brussels writes them, in both languages.
ABBREVIATIONS = {
    "av": "avenue",
    "ave": "avenue",
    "bd": "boulevard",
    "bld": "boulevard",
    "boul": "boulevard",
    "bvd": "boulevard",
    "ch": "chaussee",
    "chee": "chaussee",
    "chs": "chaussee",
    "chauss": "chaussee",
    "pl": "place",
    "r": "rue",
    "sq": "square",
}
# Dutch street kinds are written onto the name ("Brabantstraat"): "Brabant str." and
# "Brabantstr." both become "brabantstraat".
DUTCH_SUFFIXES = {"str": "straat", "stwg": "steenweg", "stw": "steenweg", "ln": "laan"}


@dataclass(frozen=True)
class AddressText:
    street: str  # the street's words, unaccented and in lower case; empty when none was given
    housenumber: str | None  # the number's key (app.geocoding.housenumbers)
    postcode: str | None


def plain(text: str) -> str:
    """Unaccented, lower case, with letters, digits, commas and single spaces only."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("œ", "oe").replace("æ", "ae"))
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9,]+", " ", _COUNTRY_PREFIX.sub(r"\1", ascii_only)).split())


def read_address(text: str) -> AddressText:
    tokens = _TOKEN.findall(plain(text))
    postcode_at = _postcode_position(tokens)
    postcode = tokens[postcode_at] if postcode_at is not None else None
    # The street is in the first stretch between commas that holds words; the words after a
    # postcode, up to the next comma, name the commune.
    stretches: list[list[str]] = [[]]
    in_commune = False
    for index, token in enumerate(tokens):
        if index == postcode_at or token == ",":
            stretches.append([])
            in_commune = index == postcode_at
        elif not in_commune:
            stretches[-1].append(token)
    street_words, housenumber = _street_and_number(stretches)
    return AddressText(" ".join(_expanded(street_words)), housenumber, postcode)


def _postcode_position(tokens: list[str]) -> int | None:
    """The last token that reads as a postcode and stands where a postcode does: after a comma
    or another number, or before the commune's words. A lone number right after the street
    ("Chaussée de Louvain 1200") is its house number."""
    for index in range(len(tokens) - 1, -1, -1):
        if not _POSTCODE.match(tokens[index]):
            continue
        before, after = tokens[:index], tokens[index + 1 :]
        after_comma = bool(before) and before[-1] == ","
        after_number = any(_HOUSE_NUMBER.match(t) for t in before)
        words_after = any(t != "," for t in after)
        if after_comma or after_number or words_after or not before:
            return index
    return None


def _street_and_number(stretches: list[list[str]]) -> tuple[list[str], str | None]:
    for stretch in stretches:
        words, number = _split_number(stretch)
        if any(not _HOUSE_NUMBER.match(w) for w in words):
            return words, number
    # No street: perhaps a number alone ("62, 1210").
    for stretch in stretches:
        if stretch:
            return [], _split_number(stretch)[1]
    return [], None


def _split_number(stretch: list[str]) -> tuple[list[str], str | None]:
    """The street's words and the house number of one stretch. The number ends the stretch
    ("rue de brabant 62 a"), and a number inside the name stays the name's ("Rue des 3
    Tilleuls 5"); else it comes first ("62 rue de brabant"); else it is followed by the
    commune ("Rue de Brabant 62 Saint-Josse")."""
    numbers = [i for i, token in enumerate(stretch) if _HOUSE_NUMBER.match(token)]
    if not numbers or len(stretch) == 1:
        return stretch, None
    last = numbers[-1]
    ends_with_number = last == len(stretch) - 1 or (
        last == len(stretch) - 2 and _NUMBER_SUFFIX.match(stretch[-1]) is not None
    )
    if ends_with_number and last > 0:
        return stretch[:last], number_key("".join(stretch[last:]))
    first = numbers[0]
    suffixed = first + 1 < len(stretch) and _NUMBER_SUFFIX.match(stretch[first + 1]) is not None
    written = "".join(stretch[first : first + 2]) if suffixed else stretch[first]
    if first == 0:
        return stretch[2 if suffixed else 1 :], number_key(written)
    return stretch[:first], number_key(written)


def _expanded(words: list[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        if word in DUTCH_SUFFIXES and out:
            out[-1] += DUTCH_SUFFIXES[word]
            continue
        for short, full in DUTCH_SUFFIXES.items():
            if word.endswith(short) and len(word) > len(short) + 2 and word not in ABBREVIATIONS:
                word = word[: -len(short)] + full
                break
        out.append(ABBREVIATIONS.get(word, word))
    return out
