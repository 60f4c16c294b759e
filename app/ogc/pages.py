"""The open data's HTML pages (`?f=html`): tipg's templates, rendered with every value escaped
(tipg's own environment escapes nothing, and a listing's title is user text), under a header of
ours that loads nothing from another host. The templates' inline scripts (a Leaflet map from a
CDN) do not run under the pages' Content-Security-Policy; the pages show their tables."""

from pathlib import Path

import jinja2
from starlette.templating import Jinja2Templates

TEMPLATES = Path(__file__).parent / "templates"


def open_data_templates() -> Jinja2Templates:
    loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(TEMPLATES), jinja2.PackageLoader("tipg", "templates")]
    )
    return Jinja2Templates(env=jinja2.Environment(loader=loader, autoescape=True))
