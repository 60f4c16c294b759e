"""A longer fuzz run than the suite's: the Schemathesis tests of tests/test_fuzz.py with more
examples per operation, on a throwaway PostgreSQL cluster of their own (.data/fuzz-pg, removed
afterwards; BOUCLE_FUZZ_DATABASE_URL names a running server to use instead). Prints the totals:
operations, calls, answers by status code, and the failures by kind with their operations.
Exits 1 when something failed.

    .venv/bin/python scripts/fuzz.py [--examples 200] [-k 'hubs or matches']

As in the suite, webhooks go only to a local receiver on 127.0.0.1, the one host the app
allows: nothing leaves this machine."""

import argparse
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from tests.conftest import remove_cluster  # noqa: E402

CLUSTER = PROJECT_ROOT / ".data" / "fuzz-pg"
PG = str(PROJECT_ROOT / "scripts" / "pg.sh")
FUZZ_TEST = "test_every_answer_keeps_to_the_document"


class Totals:
    """A pytest plugin that keeps what the fuzz tests did: the calls and answers of each
    operation (from the `fuzzed` fixture) and the kinds of failure each operation had."""

    def __init__(self) -> None:
        self.answers: dict[str, Counter[int]] = {}
        self.failures: defaultdict[str, set[str]] = defaultdict(set)
        self.others: list[str] = []  # failing tests that are not one operation's

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        report = outcome.get_result()
        fuzzed = getattr(item, "funcargs", {}).get("fuzzed")
        if fuzzed is not None:
            self.answers = fuzzed.answers
        if not report.failed:
            return
        operation = item.name.partition("[")[2].removesuffix("]")
        if not item.name.startswith(FUZZ_TEST) or not operation:
            self.others.append(item.nodeid)
            return
        self.failures[operation].update(_kinds(call.excinfo.value if call.excinfo else None))

    def print(self, seconds: float, examples: int) -> None:
        calls = sum(sum(c.values()) for c in self.answers.values())
        statuses: Counter[int] = Counter()
        for counts in self.answers.values():
            statuses.update(counts)
        print(
            f"\nfuzz: {len(self.answers)} operations, {calls} calls in {seconds:.0f} s "
            f"({examples} examples per operation and phase)"
        )
        print("answers: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
        by_kind: defaultdict[str, list[str]] = defaultdict(list)
        for operation, kinds in sorted(self.failures.items()):
            for kind in kinds:
                by_kind[kind].append(operation)
        failing = sum(1 for kinds in self.failures.values() if kinds)
        print(f"failures: {failing} operations" + (":" if by_kind else ""))
        for kind, operations in sorted(by_kind.items()):
            print(f"  {kind}: {len(operations)}")
            for operation in operations:
                print(f"    {operation}")
        for nodeid in self.others:
            print(f"  failed: {nodeid}")


def _kinds(error: BaseException | None) -> set[str]:
    """The kinds of failure in what a test raised: each Schemathesis failure's code and title,
    or the exception's type."""
    if error is None:
        return {"unknown"}
    if isinstance(error, BaseExceptionGroup):
        return set().union(*(_kinds(e) for e in error.exceptions))
    title = getattr(error, "title", None)
    if title is not None:
        return {f"{getattr(error, 'code', '')} {title}".strip()}
    return {type(error).__name__}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="per operation and phase")
    parser.add_argument("-k", default="", help="only the operations pytest's -k selects")
    arguments = parser.parse_args()

    given = os.environ.get("BOUCLE_FUZZ_DATABASE_URL")
    if given is None:
        subprocess.run([PG, "stop", str(CLUSTER)], check=False)
        remove_cluster(CLUSTER)
        started = subprocess.run(
            [PG, "start", str(CLUSTER), "--throwaway"],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        # pg.sh prints no password: the cluster's password file has it.
        os.environ["PGPASSFILE"] = str(CLUSTER.resolve() / "pgpass")
    os.environ["BOUCLE_TEST_DATABASE_URL"] = given or started.stdout.strip()
    # Read when tests/test_fuzz.py is imported, below.
    os.environ["BOUCLE_FUZZ_EXAMPLES"] = str(arguments.examples)
    selection = f"({arguments.k}) or not {FUZZ_TEST}" if arguments.k else ""
    totals = Totals()
    began = time.monotonic()
    try:
        # The warning: this script imported the modules of tests.conftest before pytest could.
        quiet = ["-q", "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
        code = pytest.main(["tests/test_fuzz.py", *quiet, "-k", selection], plugins=[totals])
    finally:
        if given is None:
            subprocess.run([PG, "stop", str(CLUSTER)], check=False)
            remove_cluster(CLUSTER)
    totals.print(time.monotonic() - began, arguments.examples)
    return 0 if code == pytest.ExitCode.OK else 1


if __name__ == "__main__":
    sys.exit(main())
