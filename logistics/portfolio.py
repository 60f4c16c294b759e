"""`solve`: the one entry point of the routing engine, for the API's route plans, the two-tier
plans and the benchmarks alike.

The precheck takes out what no vehicle can serve, with its reason. Then the engines of the
portfolio search at once, one process and one core each, for the whole time limit, and the
best plan by the problem's own objective is answered, re-checked, naming the engine that
found it beside what every engine answered. On one process the portfolio is PyVRP; two add
OR-Tools; more add another seed of PyVRP and the OR-Tools searches of
`engines.ortools.PORTFOLIO` in turn. Each engine's process is named after it (`boucle
pyvrp`, `boucle ortools`), as `ps` and /proc show it."""

import multiprocessing
import os
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace

from logistics.check import plan_problems
from logistics.child_process import (
    OUT_OF_MEMORY,
    Child,
    death_reason,
    named_process,
    start_child,
)
from logistics.engines import ortools, pyvrp
from logistics.model import NO_PLAN_IN_TIME, EngineRun, Problem, Solution, Unassigned
from logistics.objective import best_plan, objective_value, total_distance
from logistics.precheck import unservable_reason
from logistics.progress import ImprovementReporter, Sink

# An engine that has not answered by the time limit, and as long again (at least this long),
# is stopped: PyVRP checks its limit between iterations only, and its first local search of
# hundreds of pickups and deliveries can take half a minute.
MIN_GRACE_S = 5.0


@dataclass(frozen=True)
class Member:
    engine: str
    options: pyvrp.PyVRPOptions | ortools.SolverOptions

    def search(self, problem: Problem, seconds: float, reporter: ImprovementReporter) -> Solution:
        if isinstance(self.options, pyvrp.PyVRPOptions):
            return pyvrp.solve(problem, seconds, self.options, reporter)
        return ortools.solve(problem, replace(self.options, time_limit_s=seconds), reporter)


# In the order cores add them. OR-Tools' first search is guided local search throughout:
# on the `make run` demo day it planned the fewest km of its searches (bench/README.md).
MEMBERS = (
    Member("pyvrp", pyvrp.PyVRPOptions(seed=0)),
    Member("ortools", ortools.SolverOptions()),
    Member("pyvrp", pyvrp.PyVRPOptions(seed=1)),
    Member("ortools", ortools.PORTFOLIO[0]),
    Member("pyvrp", pyvrp.PyVRPOptions(seed=2)),
    Member("ortools", ortools.PORTFOLIO[1]),
)
ENGINES = tuple(dict.fromkeys(m.engine for m in MEMBERS))


# The name of the plan `solve` was given to start from, among the engines' answers.
INITIAL = "initial"


def cores() -> int:
    return len(os.sched_getaffinity(0))


def members_for(engines: Sequence[str] | None = None, processes: int | None = None) -> list[Member]:
    """The members of `engines` (every engine by default) for `processes` processes (as many
    as cores by default), in the order cores add them; at least one of each engine named."""
    wanted = [m for m in MEMBERS if engines is None or m.engine in engines]
    if not wanted:
        raise ValueError(f"no engine among {engines}; the engines are {', '.join(ENGINES)}")
    count = processes or cores()
    if engines is not None:
        count = max(count, len({m.engine for m in wanted}))
    return wanted[: max(1, count)]


def solve(
    problem: Problem,
    time_limit_s: float,
    engines: Sequence[str] | None = None,
    processes: int | None = None,
    report: Sink | None = None,
    initial: Solution | None = None,
) -> Solution:
    """The best plan of the portfolio's engines in `time_limit_s`, searching in `processes`
    processes at once (every core by default: a worker running plans side by side gives each
    its share). `report` hears of each better plan an engine finds as it goes
    (`logistics.progress`), from the engines' processes. An `initial` plan that keeps every
    rule (the rounds of a day's bookings, made by insertion) is ranked with the engines'
    plans, so that the answer never leaves out more than it did."""
    started = time.monotonic()
    unservable: list[Unassigned] = []
    servable = []
    for shipment in problem.shipments:
        reason = unservable_reason(problem, shipment)
        if reason is None:
            servable.append(shipment)
        else:
            unservable.append(Unassigned(shipment.id, *reason))
    searched = replace(problem, shipments=servable)
    if not servable:
        # Nothing to search for: an empty plan, every shipment with its reason.
        return Solution([], unservable, 0.0, "solved", {"seconds": time.monotonic() - started})
    members = members_for(engines, processes)
    answers = _run_all(members, searched, time_limit_s, report)
    runs = []
    plans = []
    for member, answer in zip(members, answers, strict=True):
        problems = (
            tuple(plan_problems(searched, answer))
            if isinstance(answer, Solution) and answer.status == "solved"
            else ()
        )
        if isinstance(answer, Solution):
            feasible = answer.status == "solved" and not problems
            runs.append(_run(member.engine, searched, answer, feasible, problems))
            if feasible:
                plans.append((answer, member.engine))
        else:
            runs.append(EngineRun(member.engine, False, 0, 0, len(servable), 0.0, 0.0, (answer,)))
    if initial is not None:
        # Those the precheck left out are answered with its reason, once.
        searched_ids = {s.id for s in servable}
        initial = replace(
            initial, unassigned=[u for u in initial.unassigned if u.shipment_id in searched_ids]
        )
        problems = tuple(plan_problems(searched, initial))
        runs.append(_run(INITIAL, searched, initial, not problems, problems))
        if not problems:
            plans.append((initial, INITIAL))
    seconds = time.monotonic() - started
    failures = [answer for answer in answers if isinstance(answer, str)]
    if not plans and len(failures) == len(answers):
        # Not a plan that finds no room: the search itself failed, and the plan with it.
        if any(f.startswith(OUT_OF_MEMORY) for f in failures):
            raise MemoryError("; ".join(failures))
        raise RuntimeError("every engine failed: " + "; ".join(failures))
    if not plans:
        missing = [Unassigned(s.id, "no_room", NO_PLAN_IN_TIME) for s in servable]
        return Solution(
            [], unservable + missing, 0.0, "no_solution", {"seconds": seconds}, "", tuple(runs)
        )
    best = best_plan(searched, [plan for plan, _ in plans])
    engine = next(name for plan, name in plans if plan is best)
    return Solution(
        best.routes,
        unservable + best.unassigned,
        objective_value(searched, best),
        "solved",
        {**best.stats, "seconds": seconds},
        engine,
        tuple(runs),
    )


def _run(
    engine: str, problem: Problem, answer: Solution, feasible: bool, problems: tuple[str, ...]
) -> EngineRun:
    return EngineRun(
        engine,
        feasible,
        len(answer.routes),
        total_distance(answer.routes),
        len(answer.unassigned),
        objective_value(problem, answer),
        round(answer.stats.get("seconds", 0.0), 3),
        problems[:5],
    )


def _run_all(
    members: list[Member], problem: Problem, seconds: float, report: Sink | None
) -> list[Solution | str]:
    """Each member's plan, or what went wrong, each in a process of its own when there are
    several (forked: they start at once, without importing the engines again, and report
    through what `report` holds)."""
    if len(members) == 1:
        return [_answer(members[0], problem, seconds, report)]
    context = multiprocessing.get_context("fork")
    children = [
        start_child(context, _answer, (member, problem, seconds, report)) for member in members
    ]
    allowed = seconds + max(MIN_GRACE_S, seconds)
    deadline = time.monotonic() + allowed
    answers: list[Solution | str] = []
    for child in children:
        answer: Solution | str = f"ended without an answer in {allowed:g} s"
        try:
            if child.answer.poll(max(0.0, deadline - time.monotonic())):
                answer = _member_answer(child)
        finally:
            child.stop()
        answers.append(answer)
    return answers


def _member_answer(child: Child) -> Solution | str:
    outcome = child.receive()
    if outcome is None:
        child.process.join()
        return death_reason(child.process.exitcode)
    if outcome.out_of_memory:
        return OUT_OF_MEMORY
    if outcome.raised is not None:
        return outcome.traceback
    answer: Solution | str = outcome.value
    return answer


def _answer(
    member: Member, problem: Problem, seconds: float, report: Sink | None
) -> Solution | str:
    """The member's plan, or how it failed; running out of memory is not a plan's failure
    but the process's, and is raised."""
    reporter = ImprovementReporter(problem, member.engine, report)
    try:
        with named_process(f"boucle {member.engine}"):
            answer = member.search(problem, seconds, reporter)
    except MemoryError:
        raise
    except Exception:
        return traceback.format_exc(limit=5)
    reporter.flush()
    if answer.status == "solved":
        reporter.found(lambda: answer)
        reporter.flush()
    return answer
