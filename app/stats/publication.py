"""A month of statistics is computed once and frozen: the first time it is read after it
ended in Brussels (or by the sweep early in the next month), in one transaction; later changes
to old rows never change it, so that nothing can be learnt by comparing what it says at two
times. Which of its cells are hidden is `suppression.publish`'s decision."""

import asyncio
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.fleet.schemas import DEFAULTS as VEHICLE_DEFAULTS
from app.stats.repository import (
    ROUTE_KM,
    claim_month,
    figure_name,
    month_contributions,
    published_months,
    store_cells,
)
from app.stats.schemas import MAX_SHARE_PCT, MIN_ORGANIZATIONS
from app.stats.suppression import Rule, publish

PLAN, BASELINE, SAVING = "plan_co2e_kg", "baseline_co2e_kg", "saving_co2e_kg"

RULE = Rule(
    min_organizations=MIN_ORGANIZATIONS,
    max_share=Decimal(MAX_SHARE_PCT) / 100,
    # The saving is the baseline less the plan: hidden one, hidden all three.
    hidden_together=(frozenset({PLAN, BASELINE, SAVING}),),
    relations=(
        {SAVING: 1.0, BASELINE: -1.0, PLAN: 1.0},
        # A plan's CO2e is its km by each vehicle's factor: with the factors every vehicle
        # type has unless told otherwise, the km of one type could be worked out of it.
        {
            PLAN: 1.0,
            **{
                figure_name(ROUTE_KM, vehicle_type): -float(defaults["co2_g_per_km"] or 0) / 1000
                for vehicle_type, defaults in VEHICLE_DEFAULTS.items()
            },
        },
    ),
)


async def publish_month(session: AsyncSession, month: date) -> None:
    """Computes and stores the month unless it is already; concurrent callers compute it once
    (the first claims it, the others wait for its commit and find it done)."""
    if not await claim_month(session, month):
        return
    contributions = await month_contributions(session, month)
    # The rank tests are numpy's: off the event loop.
    cells = await asyncio.to_thread(publish, contributions, RULE)
    await store_cells(session, month, cells)


async def publish_months(session: AsyncSession, months: list[date]) -> None:
    """Publishes those of these months (all ended) that are not yet, oldest first."""
    done = await published_months(session, months[0], months[-1])
    for month in months:
        if month not in done:
            await publish_month(session, month)
