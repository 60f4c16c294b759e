"""The pages' files: ours in web/, the libraries they run (MapLibre, Swagger UI, ReDoc) in
web/node_modules/ from the npm registry, installed by scripts/setup.sh. Nothing is loaded from
a CDN: the service runs where there is no internet."""

from pathlib import Path

from app.kit.problems import ServiceUnavailable

# The project's root, two folders above this one.
WEB_DIR = Path(__file__).resolve().parents[2] / "web"
NODE_MODULES = WEB_DIR / "node_modules"


def not_installed(package: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"This page needs {package}, which is not installed in web/node_modules/: run "
        "scripts/setup.sh (it runs `npm ci` in web/), then start the app again."
    )
