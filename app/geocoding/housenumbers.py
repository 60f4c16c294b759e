"""House numbers as keys that compare: what OSM tags and what people type name the same door
when their keys are equal ("62", "62 A" and "62a" are `62a`; "3 bis" and "3bis" are `3bis`)."""

import re

# A number with at most a letter or a Latin ordinal after it.
_ONE = re.compile(r"(\d{1,5})\s*(bis|ter|quater|[a-z])?(?![a-z])")
# "33-35" or "13 - 19": a run of doors of one side of the street, tagged on one building.
_RUN = re.compile(r"^(\d{1,5})\s*-\s*(\d{1,5})$")
# A run wider than this is more likely a typo than one building.
MAX_RUN = 20


def number_key(text: str) -> str | None:
    """The key of one house number as typed, or None when it does not start with a number."""
    match = _ONE.match(text.strip().lower())
    if match is None:
        return None
    number, suffix = match.groups()
    return f"{int(number)}{suffix or ''}"


def tagged_keys(housenumber: str) -> list[str]:
    """Every door an OSM `addr:housenumber` names: one ("52B"), a list ("124;128", "12, 14",
    "64 & 66") or a run of one side of the street ("63-67": 63, 65, 67). Text with no number
    ("marwan") names none."""
    text = housenumber.strip().lower().replace("n°", " ")
    run = _RUN.match(text)
    if run is not None:
        first, last = int(run.group(1)), int(run.group(2))
        if first < last and last - first <= MAX_RUN and first % 2 == last % 2:
            return [str(n) for n in range(first, last + 1, 2)]
        return [str(first), str(last)] if first != last else [str(first)]
    keys: list[str] = []
    for part in re.split(r"[;,&/\\]|\s-\s|-", text):
        key = number_key(part)
        if key is not None and key not in keys:
            keys.append(key)
    return keys
