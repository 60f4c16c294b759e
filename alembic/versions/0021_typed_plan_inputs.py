"""route plans: every plan's inputs in the versioned shape the worker reads (version 2)

A plan's inputs (`route_plans.inputs`) are read as `app.route_plans.plan_inputs.PlanInputs`,
which takes one shape only. The plans asked for before it are rewritten into it here, once:
the unversioned shape (version 1) gets its `version`; its `mode` and `hubs` where the first
plans had none (a direct plan, no hubs: as the row's `mode` says); each vehicle its
`stop_time_s` where vehicles had no stop time yet (0, as those plans were searched); and each
end of a shipment names its window `window_from` and `window_until`, as the API does, instead
of `from` and `until`. The results keep their shape. The downgrade writes version 1 back,
keeping what the upgrade filled in, which that version read too.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _each(array: str, element: str) -> str:
    """The JSON array `array` with each element (`e`) replaced by the expression `element`,
    in order."""
    return f"""(SELECT coalesce(jsonb_agg({element} ORDER BY n), '[]'::jsonb)
                  FROM jsonb_array_elements({array}) WITH ORDINALITY AS t(e, n))"""


def _renamed(end: str, names: dict[str, str]) -> str:
    """The JSON object `end` with its keys renamed (old: new)."""
    removed = " - ".join([end, *(f"'{old}'" for old in names)])
    added = ", ".join(f"'{new}', {end} -> '{old}'" for old, new in names.items())
    return f"(({removed}) || jsonb_build_object({added}))"


def _shipment_ends(names: dict[str, str]) -> str:
    return _each(
        "inputs -> 'shipments'",
        "e || jsonb_build_object("
        + ", ".join(f"'{end}', {_renamed(f'(e -> {end!r})', names)}" for end in ("pickup", "delivery"))
        + ")",
    )


WINDOW_NAMES = {"from": "window_from", "until": "window_until"}

UPGRADE = f"""
UPDATE route_plans
   SET inputs = jsonb_build_object(
           'version', 2,
           'mode', coalesce(inputs -> 'mode', to_jsonb(mode)),
           'vehicles', {_each("inputs -> 'vehicles'", "jsonb_build_object('stop_time_s', 0) || e")},
           'shipments', {_shipment_ends(WINDOW_NAMES)},
           'hubs', coalesce(inputs -> 'hubs', '[]'::jsonb))
 WHERE inputs -> 'version' IS NULL
"""

DOWNGRADE = f"""
UPDATE route_plans
   SET inputs = (inputs - 'version')
                || jsonb_build_object(
                       'shipments',
                       {_shipment_ends({new: old for old, new in WINDOW_NAMES.items()})})
 WHERE inputs -> 'version' = '2'::jsonb
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
