#!/usr/bin/env bash
# Installs what boucle needs on a Debian machine: system packages, then the Python environment.
# Idempotent: run again, it only checks. `scripts/setup.sh --test` adds what the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting osm2pgrouting osmium-tool)
# The map page's JavaScript comes from the npm registry.
command -v npm >/dev/null || APT_PACKAGES+=(nodejs npm)
# tests/test_map_page.py drives Debian's Chromium, with a font for the page's text.
[[ ${1:-} == --test ]] && APT_PACKAGES+=(chromium fonts-dejavu-core)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "boucle needs these Debian packages; install them as root with:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [[ ! -x .venv/bin/python || pyproject.toml -nt .venv/.installed ]]; then
    echo "creating the Python environment in .venv/"
    [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e '.[dev]'
    touch .venv/.installed
fi

# MapLibre GL JS for the map page (GET /map), which the app serves from web/node_modules/.
if [[ web/package-lock.json -nt web/node_modules/.installed ]]; then
    echo "installing the map page's JavaScript in web/node_modules/"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
    touch web/node_modules/.installed
fi
