"""The pages' files: ours in web/, the libraries they run (MapLibre, Swagger UI, ReDoc) in
web/node_modules/ from the npm registry, installed by scripts/setup.sh. Nothing is loaded from
a CDN: the service runs where there is no internet."""

from app.kit.problems import ServiceUnavailable
from app.settings import PROJECT_ROOT

WEB_DIR = PROJECT_ROOT / "web"
NODE_MODULES = WEB_DIR / "node_modules"


def not_installed(package: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"This page needs {package}, which is not installed in web/node_modules/: run "
        "scripts/setup.sh (it runs `npm ci` in web/), then start the app again."
    )
