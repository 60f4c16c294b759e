"""The cores a worker's plan slots share: each slot gets an equal share (at least one process),
so that a worker running as many plans as it has slots runs no more searches than it has cores.
A plan that took every core would leave a second plan beside it the same cores again, and
both would search at half speed (`bench/roads.py` measures both ways)."""

from app.settings import Settings
from logistics.portfolio import cores


def worker_cores(settings: Settings) -> int:
    """The cores the worker's plans may use: `worker_plan_cores`, or every core the process may
    run on."""
    return settings.worker_plan_cores or cores()


def processes_per_plan(settings: Settings) -> int:
    """The engine processes one plan (or matching run) of the worker may run at once."""
    return max(1, worker_cores(settings) // max(1, settings.worker_plan_concurrency))
