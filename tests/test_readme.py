"""The README as a script: its shell blocks, from the walk-through on, run in one bash session
as written against a live `make run` server (scripts/run.sh, with a cluster, admin token and
demo keys of its own), offline. No call answers a 5xx, a 4xx comes only where the README shows
one, and the answers the README shows (`# {"status": "accepted", ...}`) hold: each quoted
string member it names is in the block's output. Then the deliveries the webhook example
promises reach its receiver, and the route plans it starts end `done`, the two-tier one through
the hub, which it found cheaper than door to door."""

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.settings import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
FIRST_RUNNABLE = "## A walk-through with curl"
README_URL = "http://127.0.0.1:8000"
# `# {"key": "value", ...}` and `# 201 {...}` comments: what the README says comes back.
SHOWN_MEMBER = re.compile(r'"([a-z_]+)": "([^".]+)"')
# A comment that shows an answer: `# {...`, `# 201 {...`, or its continuation `#   "key": ...`.
SHOWN_ANSWER = re.compile(r'^#(\s*(\d{3} )?\{|\s{2,}\S|\s*")')
SHOWN_STATUS = re.compile(r"^#\s*(?:\{[^}]*\"status\": (\d{3})|(\d{3}) )")
# The curl wrapper's record of each call: `<status> <method> <url>`.
CALLS_LOG = "calls.log"


@dataclass
class Block:
    heading: str
    code: str

    @property
    def shown_members(self) -> set[tuple[str, str]]:
        """The string members of the answers the block's comments show (not of its prose)."""
        answers = [line for line in self.code.splitlines() if SHOWN_ANSWER.match(line.strip())]
        return {m for line in answers for m in SHOWN_MEMBER.findall(line)}

    @property
    def shows_a_problem(self) -> bool:
        return any(
            (m := SHOWN_STATUS.match(line.strip())) and int(m[1] or m[2]) >= 400
            for line in self.code.splitlines()
        )


def readme_blocks() -> list[Block]:
    """The ```sh blocks from the walk-through on, with the heading each is under."""
    blocks, heading, runnable = [], "", False
    lines = README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            heading = line
            runnable = runnable or line == FIRST_RUNNABLE
        if line.startswith("```"):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            if line == "```sh" and runnable:
                blocks.append(Block(heading, "\n".join(lines[i + 1 : end])))
            i = end
        i += 1
    return blocks


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    folder: Path
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`make run` as the README says, but for its data folder and its port."""
    folder = tmp_path_factory.mktemp("readme")
    port = _free_port()
    log = (folder / "server.log").open("wb")
    env = {**os.environ, "BOUCLE_DATA_DIR": str(folder / ".data"), "PORT": str(port)}
    env.pop("BOUCLE_ADMIN_TOKEN", None)
    process = subprocess.Popen(
        ["bash", "scripts/run.sh"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, (folder / "server.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "make run did not get ready"
            time.sleep(0.5)
        yield Server(url, folder, process)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        log.close()
        subprocess.run(
            [str(PROJECT_ROOT / "scripts" / "pg.sh"), "stop", str(folder / ".data" / "pg")],
            check=False,
        )


# Every curl of the README goes through this: the real curl, and a line in the calls log.
CURL_WRAPPER = f"""
curl() {{
    local out status
    out=$(mktemp)
    status=$(command curl -o "$out" -w '%{{http_code}}' "$@") || status=000
    cat "$out"; rm -f "$out"
    local call="$*"
    echo "$status ${{call//$'\n'/ }}" >> {CALLS_LOG}
}}
"""


def _script(blocks: list[Block], url: str) -> str:
    parts = ["set -u", CURL_WRAPPER, "trap 'kill $(jobs -p) 2>/dev/null' EXIT"]
    for index, block in enumerate(blocks):
        parts += [f"echo '@@block {index}@@'", f"echo '@@block {index}@@' >> {CALLS_LOG}"]
        parts.append(block.code.replace(README_URL, url))
    # After the README: what it promises happens in the background, waited for.
    parts += [
        "echo '@@after@@'",
        f"echo '@@after@@' >> {CALLS_LOG}",
        "for _ in $(seq 120); do",
        '  curl -s $B/v1/webhooks/$HOOK/deliveries -H "$AUTH" | grep -q delivered && break',
        "  sleep 0.5",
        "done",
        "echo '@@plans@@'",
        "for _ in $(seq 240); do",
        '  plans=$(command curl -s "$B/v1/route-plans?limit=50" -H "$CARRIER")',
        '  echo "$plans" | grep -q \'"status":"\\(queued\\|running\\)"\' || break',
        "  sleep 0.5",
        "done",
        'echo "$plans"',
    ]
    return "\n".join(parts) + "\n"


def test_the_readme_runs_as_written_against_make_run(server: Server) -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 8, [b.heading for b in blocks]
    script = _script(blocks, server.url)
    (server.folder / "readme.sh").write_text(script)
    ran = subprocess.run(
        ["bash", "readme.sh"],
        cwd=server.folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = ran.stdout
    calls = (server.folder / CALLS_LOG).read_text()
    sections = re.split(r"@@block \d+@@\n", output.split("@@after@@")[0])[1:]
    call_sections = re.split(r"@@block \d+@@\n", calls.split("@@after@@")[0])[1:]
    assert len(sections) == len(blocks) == len(call_sections), ran.stderr[-2000:]
    for block, answer, block_calls in zip(blocks, sections, call_sections, strict=True):
        statuses = [int(line.split()[0]) for line in block_calls.splitlines() if line.strip()]
        assert statuses, f"{block.heading}: no call made"
        assert all(0 < s < 500 for s in statuses), (block.heading, block_calls)
        problems = [s for s in statuses if s >= 400]
        assert bool(problems) == block.shows_a_problem, (block.heading, block_calls)
        compact = re.sub(r'":\s+', '":', answer)
        for key, value in block.shown_members:
            if "<" in value:
                continue
            assert f'"{key}":"{value}"' in compact, (block.heading, key, value, answer[-1500:])

    after = output.split("@@after@@")[1]
    # The webhook receiver printed a signed delivery of the event the README says (signed
    # twice if it came after the README rotated the secret).
    delivered = re.search(
        r't=\d+(,v1=[0-9a-f]{64}){1,2} \{.*"type":"offer.candidate_found"', output
    )
    assert delivered, output[-3000:]
    plans = json.loads(after.split("@@plans@@")[1])["items"]
    assert {p["status"] for p in plans} == {"done"}, [p["status"] for p in plans]
    # The two-tier example is one where the hub pays: every parcel goes through it, and the
    # plan kept is the cheaper of those compared.
    (two_tier,) = [p["result"] for p in plans if p["mode"] == "two_tier"]
    costs = two_tier["compared_costs_eur"]
    assert costs["all_via_hub"] < costs["direct"], costs
    assert two_tier["solver"]["chosen"] == "all_via_hub"
    assert len(two_tier["via_hub"]) == len(two_tier["transfers"]) == 8
