"""Health, readiness, auth and organizations, materials, errors."""

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from app.database_roles import OWNER, read_password_file, write_password_file
from app.settings import PROJECT_ROOT
from demo.seed import save_demo_keys
from tests.conftest import ADMIN_TOKEN, OrgFactory, assert_problem, connect_raw


async def test_liveness_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert ready.json()["migration"] == ready.json()["migration_head"]


async def test_metrics_are_exposed_for_prometheus(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "http_requests_total" in metrics.text


async def test_organization_key_is_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, database_url: str
) -> None:
    created = await client.post(
        "/v1/organizations",
        json={"name": "Recy-K", "roles": ["supplier", "hub_operator"]},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert created.status_code == 201
    body = created.json()
    assert created.headers["location"] == f"/v1/organizations/{body['id']}"
    assert body["roles"] == ["hub_operator", "supplier"]
    key = body["api_key"]

    me = await client.get("/v1/organizations/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200
    assert me.json()["name"] == "Recy-K"
    assert "api_key" not in me.json()

    conn = await connect_raw(database_url)
    try:
        stored = await conn.fetch(
            "SELECT key_hash FROM api_keys WHERE organization_id = $1", me.json()["id"]
        )
        leaked = await conn.fetchval(
            "SELECT count(*) FROM api_keys WHERE key_hash = $1 OR key_hash LIKE '%' || $1 || '%'",
            key,
        )
    finally:
        await conn.close()
    assert [r["key_hash"] for r in stored] == [hashlib.sha256(key.encode()).hexdigest()]
    assert leaked == 0


async def test_missing_or_unknown_key_answers_401(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/sites")
    assert_problem(missing, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    assert_problem(await client.get("/v1/sites", headers={"Authorization": "Bearer bk_nope"}), 401)


async def test_only_the_admin_token_creates_organizations(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org("supplier")
    refused = await client.post(
        "/v1/organizations", json={"name": "x", "roles": ["supplier"]}, headers=org.headers
    )
    assert_problem(refused, 403)
    bad_role = await client.post(
        "/v1/organizations",
        json={"name": "x", "roles": ["wizard"]},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert_problem(bad_role, 422, "roles.0", "enum")
    no_role = await client.post(
        "/v1/organizations",
        json={"name": "x", "roles": []},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert_problem(no_role, 422, "roles", "too_short")


async def test_materials_search_filter_and_pages(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org("consumer")
    soil = await client.get("/v1/materials", params={"q": "soil and stones"}, headers=org.headers)
    codes = {m["code"] for m in soil.json()["items"]}
    assert {"170503", "170504"} <= codes
    hazardous = {m["code"]: m["hazardous"] for m in soil.json()["items"]}
    assert hazardous["170503"] is True and hazardous["170504"] is False

    chapter = await client.get(
        "/v1/materials", params={"chapter": "17", "limit": 10}, headers=org.headers
    )
    items = chapter.json()["items"]
    assert len(items) == 10 and all(m["chapter"] == "17" for m in items)
    seen = [m["code"] for m in items]
    next_href = chapter.json()["links"][0]["href"]
    while next_href:
        page = (await client.get(next_href, headers=org.headers)).json()
        seen += [m["code"] for m in page["items"]]
        next_href = page["links"][0]["href"] if page["links"] else None
    assert len(seen) == len(set(seen)) == 38  # chapter 17 has 38 codes
    assert seen == sorted(seen)

    one = await client.get("/v1/materials/17 05 04", headers=org.headers)
    assert one.json()["description"].startswith("Soil and stones")
    assert_problem(await client.get("/v1/materials/999999", headers=org.headers), 404)
    assert_problem(
        await client.get("/v1/materials", params={"chapter": "1"}, headers=org.headers),
        422,
        "chapter",
        "string_pattern_mismatch",
    )


async def test_unknown_route_and_bad_json_are_problems(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org()
    assert_problem(await client.get("/v1/nothing-here", headers=org.headers), 404)
    broken = await client.post(
        "/v1/sites",
        content=b'{"name": ',
        headers={**org.headers, "content-type": "application/json"},
    )
    assert "not JSON" in assert_problem(broken, 400)["detail"]
    latin1 = await client.post(
        "/v1/sites",
        content='{"name": "Dépôt", "kind": "yard"}'.encode("latin-1"),
        headers={**org.headers, "content-type": "application/json"},
    )
    assert_problem(latin1, 400)
    assert (await client.get("/v1/sites", headers=org.headers)).json()["features"] == []


async def test_oversized_body_answers_413(client: httpx.AsyncClient, make_org: OrgFactory) -> None:
    org = await make_org()
    huge = await client.post(
        "/v1/sites", json={"name": "x" * 200_000, "kind": "yard"}, headers=org.headers
    )
    body = assert_problem(huge, 413)
    assert body["max_body_bytes"] == 100_000


def test_the_admin_token_is_made_once_for_its_owner_alone(tmp_path: Path) -> None:
    kept = tmp_path / "data" / "admin-token"

    def printed() -> str:
        ran = subprocess.run(
            [sys.executable, "-m", "app.cli", "admin-token", "--file", str(kept)],
            capture_output=True,
            text=True,
            check=True,
            cwd=PROJECT_ROOT,
            # However permissive the umask, the file is its owner's alone.
            preexec_fn=lambda: os.umask(0),
        )
        return ran.stdout.strip()

    first = printed()
    assert len(first) >= 40 and printed() == first
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_files_of_secrets_are_their_owners_alone_from_the_start(tmp_path: Path) -> None:
    """The demo keys and the roles' password file: made or rewritten 0600 whatever the umask
    and whatever mode the file had, written whole (never a moment readable by others)."""
    keys = tmp_path / "demo-keys.json"
    keys.write_text("{}")
    keys.chmod(0o644)  # a file of an earlier version, readable by others
    readable_inode = keys.stat().st_ino
    pgpass = tmp_path / "pgpass"
    previous = os.umask(0)
    try:
        save_demo_keys(keys, {"org": {"name": "Recy-K", "api_key": "bk_secret"}})
        write_password_file(pgpass, "127.0.0.1", {OWNER: "a:b\\c"})
    finally:
        os.umask(previous)
    for secret in (keys, pgpass):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    # The keys went into a new file, made 0600, never into the one others could read.
    assert keys.stat().st_ino != readable_inode
    assert json.loads(keys.read_text())["org"]["api_key"] == "bk_secret"
    assert read_password_file(pgpass) == {OWNER: "a:b\\c"}
    # Nothing half written is left beside them.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-keys.json", "pgpass"]
