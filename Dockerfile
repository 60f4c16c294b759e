# The production image: the API (or, with another command, a worker) against a managed
# PostgreSQL + PostGIS given by BOUCLE_DATABASE_URL.
# The map page's JavaScript (MapLibre GL JS) from the npm registry.
FROM node:20-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml ./
COPY app ./app
COPY matching ./matching
COPY logistics ./logistics
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 boucle
COPY --from=build /install /usr/local
WORKDIR /srv/boucle
COPY alembic.ini ./
COPY alembic ./alembic
COPY app ./app
COPY matching ./matching
COPY logistics ./logistics
COPY web ./web
COPY --from=web /src/web/node_modules ./web/node_modules
USER boucle
ENV PYTHONUNBUFFERED=1 BOUCLE_SHARED_DIR=/srv/shared
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
# One API process per core the container may use, unless BOUCLE_API_PROCESSES says how many.
CMD ["python", "-m", "app.serve", "--host", "0.0.0.0", "--port", "8000"]
