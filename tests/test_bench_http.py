"""bench.http's parts that need no database, so that the benchmark stays runnable: it finds the
command line by which scripts/run.sh (`make run`) starts the API, and its wrk script names every
request it is given. (Its seeding needs a fresh database, migrated: `python -m bench.http
--quick` is its smoke run; its figures are the bench's, not a test's.)"""

from pathlib import Path

from bench.http import Route, lua_script, server_command


def test_the_bench_starts_the_api_as_make_run_does() -> None:
    command = server_command()
    assert command.startswith(".venv/bin/")
    assert '--host 127.0.0.1 --port "${PORT:-8000}"' in command


def test_the_wrk_script_names_every_request_and_its_key(tmp_path: Path) -> None:
    route = Route(
        "GET /v1/requests/{id}/candidates",
        "candidates",
        [("/healthz", None), *((f"/v1/requests/{k}/candidates", f"key-{k}") for k in range(3))],
    )
    script = lua_script(route, tmp_path).read_text()
    assert '{"/healthz", nil}' in script
    assert all(f'{{"/v1/requests/{k}/candidates", "key-{k}"}}' in script for k in range(3))
    assert "function done(summary, latency, requests)" in script
