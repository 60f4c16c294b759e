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


def _shipments_with_windows(old: tuple[str, str], new: tuple[str, str]) -> str:
    """The shipments of `inputs`, in order, each end's window keys `old` renamed `new`."""

    def end(name: str) -> str:
        renamed = ", ".join(f"'{n}', s -> '{name}' -> '{o}'" for o, n in zip(old, new, strict=True))
        return f"((s -> '{name}') - '{old[0]}' - '{old[1]}') || jsonb_build_object({renamed})"

    return f"""(SELECT coalesce(jsonb_agg(
                       s || jsonb_build_object('pickup', {end("pickup")}, 'delivery', {end("delivery")})
                       ORDER BY n), '[]'::jsonb)
                  FROM jsonb_array_elements(inputs -> 'shipments') WITH ORDINALITY AS t(s, n))"""


VERSION_1_WINDOW, VERSION_2_WINDOW = ("from", "until"), ("window_from", "window_until")

UPGRADE = f"""
UPDATE route_plans
   SET inputs = jsonb_build_object(
           'version', 2,
           'mode', coalesce(inputs -> 'mode', to_jsonb(mode)),
           'vehicles', (SELECT coalesce(jsonb_agg(jsonb_build_object('stop_time_s', 0) || v
                                                  ORDER BY n), '[]'::jsonb)
                          FROM jsonb_array_elements(inputs -> 'vehicles') WITH ORDINALITY AS t(v, n)),
           'shipments', {_shipments_with_windows(VERSION_1_WINDOW, VERSION_2_WINDOW)},
           'hubs', coalesce(inputs -> 'hubs', '[]'::jsonb))
 WHERE inputs -> 'version' IS NULL
"""

DOWNGRADE = f"""
UPDATE route_plans
   SET inputs = (inputs - 'version') || jsonb_build_object(
           'shipments', {_shipments_with_windows(VERSION_2_WINDOW, VERSION_1_WINDOW)})
 WHERE inputs -> 'version' = '2'::jsonb
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
