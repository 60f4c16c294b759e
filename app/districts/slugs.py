"""A district's slug: its street's name in plain ASCII, lower case, words joined by hyphens."""

import re
import unicodedata

MAX_SLUG_LENGTH = 100


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return words[:MAX_SLUG_LENGTH].rstrip("-") or "district"


def unique_slugs(names: list[str]) -> list[str]:
    """The slug of each name, in order; a name seen before takes `-2`, `-3`, ..."""
    seen: dict[str, int] = {}
    slugs = []
    for name in names:
        slug = slugify(name)
        seen[slug] = seen.get(slug, 0) + 1
        slugs.append(slug if seen[slug] == 1 else f"{slug}-{seen[slug]}")
    return slugs
