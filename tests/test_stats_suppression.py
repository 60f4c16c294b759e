"""The suppression of one month's statistics alone, on tables made by hand and on random ones:
the primary rule (3 organizations with a non-zero amount, none above 85 %, the buyers of a
match too), and the secondary suppression that leaves no hidden cell computable from the shown
ones, checked by an audit written apart (tests/stats_audit.py)."""

import random
from collections import defaultdict
from decimal import Decimal

import pytest

from app.stats import table_graph
from app.stats.publication import RULE
from app.stats.suppression import (
    ALL,
    CHAPTER,
    COMMUNE,
    SUBCHAPTER,
    Contribution,
    Place,
    PublishedCell,
    Rule,
    Why,
    publish,
)
from tests.stats_audit import CellKey, additivity_errors, disclosed

ANDERLECHT, BRUXELLES, IXELLES, UCCLE = "21001", "21004", "21009", "21016"
BARE = Rule(min_organizations=3, max_share=Decimal("0.85"))


def offer(
    org: str, tonnes: float | str, commune: str | None = ANDERLECHT, material: str | None = "1701"
) -> Contribution:
    return Contribution("offered_t", commune, material, org, Decimal(str(tonnes)))


def audit_cells(published: list[PublishedCell]) -> dict[CellKey, float | None]:
    return {
        (
            c.figure,
            c.place.commune_level,
            c.place.commune,
            c.place.material_level,
            c.place.material,
        ): (None if c.value is None else float(c.value))
        for c in published
    }


def by_place(
    published: list[PublishedCell], figure: str = "offered_t"
) -> dict[Place, PublishedCell]:
    return {c.place: c for c in published if c.figure == figure}


def commune_total(commune: str | None) -> Place:
    return Place(COMMUNE, commune, ALL, None)


REGION = Place(ALL, None, ALL, None)


def test_three_organizations_of_which_one_has_90_percent_are_hidden() -> None:
    cells = by_place(publish([offer("a", 9), offer("b", 0.5), offer("c", 0.5)], BARE))
    assert cells[REGION].value is None and cells[REGION].suppressed is Why.primary
    # 85 % exactly is shown.
    shown = by_place(publish([offer("a", 8.5), offer("b", 1), offer("c", 0.5)], BARE))
    assert shown[REGION].value == Decimal("10.000")


def test_organizations_that_contribute_nothing_do_not_count() -> None:
    cells = by_place(publish([offer("a", 4), offer("b", 3), offer("c", 0)], BARE))
    assert cells[REGION].suppressed is Why.primary
    # Nor does one whose amounts cancel out in the cell.
    cells = by_place(publish([offer("a", 4), offer("b", 3), offer("c", 2), offer("c", -2)], BARE))
    assert cells[REGION].suppressed is Why.primary


def test_one_supplier_with_two_buyers_and_one_buyer_with_three_suppliers_are_hidden() -> None:
    def match(seller: str, buyer: str, tonnes: int) -> list[Contribution]:
        return [
            Contribution("accepted_t", ANDERLECHT, "1701", seller, Decimal(tonnes)),
            Contribution("accepted_t", ANDERLECHT, "1701", buyer, Decimal(tonnes), counted=False),
        ]

    one_seller = by_place(publish(match("s", "b1", 2) + match("s", "b2", 3), BARE), "accepted_t")
    assert one_seller[REGION].suppressed is Why.primary
    one_buyer = [*match("s1", "b", 2), *match("s2", "b", 3), *match("s3", "b", 4)]
    assert by_place(publish(one_buyer, BARE), "accepted_t")[REGION].suppressed is Why.primary
    three_and_three = [*match("s1", "b1", 2), *match("s2", "b2", 3), *match("s3", "b3", 4)]
    shown = by_place(publish(three_and_three, BARE), "accepted_t")
    # Counted once, on the sellers' side.
    assert shown[REGION].value == Decimal("9.000")


def test_a_total_less_the_shown_communes_does_not_give_the_hidden_one() -> None:
    contributions = [
        offer("a", 10),
        offer("b", 5),
        offer("c", 2, material="1702"),
        # One organization alone in Bruxelles.
        offer("a", 4, BRUXELLES, "1705"),
        *(offer(org, t, UCCLE, "1702") for org, t in (("d", 1.5), ("e", 2.5), ("f", 3.5))),
    ]
    published = publish(contributions, BARE)
    cells = by_place(published)
    assert cells[commune_total(BRUXELLES)].suppressed is Why.primary
    # The Region's total stays; so must one more commune be hidden: Uccle, the smallest.
    assert cells[REGION].value == Decimal("28.500")
    assert cells[commune_total(ANDERLECHT)].value == Decimal("17.000")
    assert cells[commune_total(UCCLE)].suppressed is Why.secondary
    assert disclosed(audit_cells(published)) == []
    assert additivity_errors(audit_cells(published)) == []


def test_a_request_naming_a_chapter_alone_is_a_part_of_its_chapter() -> None:
    contributions = [
        offer("a", 3, material="1701"),
        offer("b", 4, material="1701"),
        offer("c", 5, material="1701"),
        # A chapter alone, from one organization: hidden, and so must one more part be.
        offer("d", 1, material="17"),
    ]
    published = publish(contributions, BARE)
    cells = by_place(published)
    assert cells[Place(ALL, None, SUBCHAPTER, "17")].suppressed is Why.primary
    assert cells[Place(ALL, None, CHAPTER, "17")].value == Decimal("13.000")
    assert cells[Place(ALL, None, SUBCHAPTER, "1701")].suppressed is Why.secondary
    assert disclosed(audit_cells(published)) == []


def test_cells_nobody_contributes_to_are_left_out_as_true_zeros() -> None:
    published = publish([offer("a", 1), offer("b", 2), offer("c", 3)], BARE)
    assert {c.place.commune for c in published} == {ANDERLECHT, None}
    assert all(c.value is not None for c in published)
    # Amounts that cancel out within a cell make a 0 with contributors: it is a cell.
    saving = [
        Contribution("saving_co2e_kg", None, None, org, Decimal(v))
        for org, v in (("a", 5), ("b", -3), ("c", -2))
    ]
    [*_, region] = publish(saving, BARE)
    assert region.place == REGION and region.value == Decimal("0.000")


def test_dominance_takes_negative_amounts_at_their_size() -> None:
    saving = [
        Contribution("saving_co2e_kg", None, None, org, Decimal(v))
        for org, v in (("a", -90), ("b", 5), ("c", 5))
    ]
    assert by_place(publish(saving, BARE), "saving_co2e_kg")[REGION].suppressed is Why.primary


def _plan(org: str, van_km: float, bike_km: float, baseline: float) -> list[Contribution]:
    plan = round(van_km * 0.27, 3)
    figures = {
        "route_km.van": van_km,
        "route_km.cargo_bike": bike_km,
        "plan_co2e_kg": plan,
        "baseline_co2e_kg": baseline,
        "saving_co2e_kg": round(baseline - plan, 3),
    }
    return [
        Contribution(figure, None, None, org, Decimal(str(value)))
        for figure, value in figures.items()
        if value
    ]


def test_the_co2e_figures_hide_together_and_the_km_of_a_lone_van_stays_hidden() -> None:
    # Three carriers ride bikes, one of them also drives a van: its km would follow from the
    # plans' CO2e (the van's factor times its km), so the CO2e is hidden, and with it the
    # baseline and the saving; the bikes' km are shown.
    plans = [*_plan("a", 12, 30, 9), *_plan("b", 0, 25, 8), *_plan("c", 0, 40, 11)]
    published = publish(plans, RULE)
    region = {c.figure: c for c in published if c.place == REGION}
    assert region["route_km.van"].suppressed is Why.primary
    assert region["route_km.cargo_bike"].value == Decimal("95.000")
    assert {
        region[f].suppressed for f in ("plan_co2e_kg", "baseline_co2e_kg", "saving_co2e_kg")
    } <= {
        Why.primary,
        Why.secondary,
    }
    assert disclosed(audit_cells(published), RULE.relations) == []


def _random_month(rng: random.Random) -> list[Contribution]:
    organizations = [f"org-{k}" for k in range(rng.randint(2, 8))]
    communes = rng.sample([ANDERLECHT, BRUXELLES, IXELLES, UCCLE, None], rng.randint(1, 5))
    materials = rng.sample(["1701", "1702", "1705", "17", "2001", "20", "0201"], rng.randint(1, 5))
    contributions = []
    for _ in range(rng.randint(2, 30)):
        org, commune, material = (
            rng.choice(organizations),
            rng.choice(communes),
            rng.choice(materials),
        )
        tonnes = Decimal(rng.randint(1, 400)) / 8
        kind = rng.random()
        if kind < 0.5:
            contributions.append(Contribution("offered_t", commune, material, org, tonnes))
        elif kind < 0.85:
            buyer = rng.choice(organizations)
            contributions.append(Contribution("accepted_t", commune, material, org, tonnes))
            contributions.append(
                Contribution("accepted_t", commune, material, buyer, tonnes, False)
            )
        else:
            contributions.extend(
                _plan(org, rng.choice([0, 8, 15]), rng.randint(0, 40), rng.randint(5, 12))
            )
    return contributions


def _sums(contributions: list[Contribution]) -> dict[tuple[str, Place], dict[str, Decimal]]:
    """Each organization's counted amount in each cell, summed here again."""
    sums: dict[tuple[str, Place], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for c in contributions:
        if not c.counted:
            continue
        chapter = c.material[:2] if c.material else None
        for cl, commune in ((COMMUNE, c.commune), (ALL, None)):
            for ml, material in ((SUBCHAPTER, c.material), (CHAPTER, chapter), (ALL, None)):
                sums[(c.figure, Place(cl, commune, ml, material))][c.organization] += c.amount
    return sums


@pytest.mark.parametrize("seed", range(150))
def test_random_months_leave_no_hidden_cell_computable(seed: int) -> None:
    contributions = _random_month(random.Random(seed))
    published = publish(contributions, RULE)
    cells = audit_cells(published)
    assert disclosed(cells, RULE.relations) == []
    assert additivity_errors(cells) == []
    sums = _sums(contributions)
    assert {(c.figure, c.place) for c in published} == {
        key for key, amounts in sums.items() if any(amounts.values())
    }
    for cell in published:
        amounts = [abs(a) for a in sums[(cell.figure, cell.place)].values() if a]
        if len(amounts) < 3 or max(amounts) > Decimal("0.85") * sum(amounts):
            assert cell.suppressed is Why.primary, cell
        if cell.value is not None:
            total = sum(sums[(cell.figure, cell.place)].values(), Decimal(0))
            assert cell.value == total.quantize(Decimal("0.001"))


@pytest.mark.parametrize("seed", range(60))
def test_a_hidden_cell_is_computable_exactly_when_it_is_a_bridge_of_the_hidden_cells(
    seed: int,
) -> None:
    # The graph of a table (its cells the edges between the equations they are in) against
    # the audit's rank test, on any set of hidden cells.
    rng = random.Random(seed)
    offers = [c for c in _random_month(rng) if c.figure == "offered_t"] or [offer("a", 1)]
    keys = [c.place for c in publish(offers, BARE)]
    hidden = set(rng.sample(keys, rng.randint(1, len(keys))))
    ends = {
        p: table_graph.ends(p.commune_level, p.commune, p.material_level, p.material)
        for p in hidden
    }
    cells: dict[CellKey, float | None] = {
        ("offered_t", p.commune_level, p.commune, p.material_level, p.material): (
            None if p in hidden else 1.0
        )
        for p in keys
    }
    assert {
        ("offered_t", p.commune_level, p.commune, p.material_level, p.material)
        for p in table_graph.bridges(ends)
    } == set(disclosed(cells))
