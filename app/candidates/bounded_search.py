"""The offers of one request that can still make its page, read by place rather than all of
them: a branch and bound on the score of `matching.scoring`.

Of a pair's score only the distance part falls with the distance (weight `WEIGHTS["distance"]`,
from 1 at the request's place to 0 at its reach); the others are at most 1 each, and two are
known from the offer's columns in the index of migration 0024: its condition, and whether its
price part can pass 0.5 (only a gate fee or a free offer, or a priced one against a request
that caps the price). So an offer of a class (grade and price) at `d` metres scores at most
`w_distance (1 - d / reach) + the class's best other parts`: once `:limit` candidates are known
to score at least S, an offer of that class farther than where its bound falls under S cannot
make the page.

The search reads the index twice, each time a box around the request in degrees that holds
every point within a radius on the spheroid:

1. the sample: the candidates of the best grade within a share of the reach (the least of
   `SAMPLE_SHARES` that holds `:limit` of them), scored with their distance bounded by the
   great circle: the `:limit`-th best lower bound is S, which the page's last candidate
   reaches at least (none when no share holds `:limit`); the exact distances, the costly part,
   are left to the page;
2. the candidates of each class within the radius where its bound falls under S (the whole
   reach without S), ranked: the page.

The box only narrows: every row it hands over is tested by the rules and scored exactly, so a
box larger than its radius costs time, never a wrong answer."""

from matching.scoring import CONDITION_VALUE, WEIGHTS

# The shares of the reach the sample reads, the next when the one before holds fewer than
# `:limit` candidates: a share s of the reach holds some s^2 / 3 of its candidates of the best
# grade, a dense region's page within the first, a sparse one's within the last or none.
SAMPLE_SHARES = (0.125, 0.25, 0.5)
# A degree of latitude is at least 110,574 m on WGS84 (at the equator), a degree of longitude
# at least 111,320 m x cos(latitude) on any parallel the box reaches; 1 % more covers the
# rounding of both and of the spheroid against the sphere.
_METRES_PER_DEGREE_LAT = 110574.0
_METRES_PER_DEGREE_LON_AT_EQUATOR = 111320.0
_MARGIN = 1.01
# Near a pole a box of longitudes means nothing: there it spans every longitude.
_POLAR_LATITUDE = 89.0
# Scores are sums of floats: a candidate tied with S within a rounding is kept.
_SCORE_SLACK = 1e-9

_REACH_M = "(r.max_distance_km::float8 * 1000)"
# The quantity and time parts: at most 1 each.
_UNKNOWN_PARTS = WEIGHTS["quantity"] + WEIGHTS["time"]
# The grades, best first.
_GRADES = sorted(CONDITION_VALUE.items(), key=lambda grade: -grade[1])
# The offer's price, as the index reads it, and its best price part (`_price_part`): 0.5 at
# most without a price, or for a priced offer against a request that caps no price; 1 for a gate
# fee or a free offer, or (at best) for a priced one against a cap.
_PRICES = (
    ("o.price_per_unit IS NULL", "0.5::float8"),
    ("o.price_per_unit <= 0", "1::float8"),
    (
        "o.price_per_unit > 0",
        "CASE WHEN r.max_price_per_unit IS NULL THEN 0.5::float8 ELSE 1::float8 END",
    ),
)


def _box(point: str, radius_m: str) -> str:
    """A box around `point` (geometry, WGS84) holding every point within `radius_m` metres."""
    dlat = f"({radius_m} * {_MARGIN!r} / {_METRES_PER_DEGREE_LAT!r})"
    lat = f"abs(ST_Y({point}))"
    dlon = (
        f"CASE WHEN {lat} + {dlat} >= {_POLAR_LATITUDE!r} THEN 360::float8 ELSE {radius_m}"
        f" * {_MARGIN!r} / ({_METRES_PER_DEGREE_LON_AT_EQUATOR!r}"
        f" * cos(radians({lat} + {dlat}))) END"
    )
    return f"ST_Expand({point}, {dlon}, {dlat})"


def _radius(condition: float, price: str, threshold: str) -> str:
    """The radius in metres beyond which an offer of this `condition` value and best `price`
    part scores under `threshold` (the whole reach when it is null); negative when none can."""
    others = (
        f"({_UNKNOWN_PARTS + WEIGHTS['condition'] * condition + _SCORE_SLACK!r}::float8"
        f" + {WEIGHTS['price']!r}::float8 * {price})"
    )
    share = f"(1 - ({threshold} - {others}) / {WEIGHTS['distance']!r}::float8)"
    return f"coalesce(least({_REACH_M}, {_REACH_M} * {share} + 1), {_REACH_M})"


def _reads(columns: str, compatible: str, boxes: list[tuple[str, str]], given: str = "") -> str:
    """The pairs (`columns` of `o` and `r`) of the request `:anchor_id` and its open offers
    that pass `compatible` (of `o`, `r` and `m`, the offer's material): for each of `boxes`,
    the offers that pass its test (of `o`: a grade, a price) within its box (of `r`, and of
    `given`'s columns: a subquery beside the request; none when the box is null)."""
    near = ", ".join(f"{box} AS box_{i}" for i, (_, box) in enumerate(boxes))
    reads = "\n UNION ALL\n".join(
        f"""SELECT {columns}
  FROM near r
  JOIN offers o
    -- The codes that start with the request's, as a range the index reads (in bytes, as
    -- codes are digits): starts_with in `compatible` stays the rule.
    ON (o.material COLLATE "C") >= (r.material COLLATE "C")
   AND (o.material COLLATE "C") < ((r.material || chr(127)) COLLATE "C")
   AND {offers}
   AND daterange(o.available_from, o.available_until, '[]')
       && daterange(r.needed_from, r.needed_by, '[]')
   AND o.location && r.box_{i}
  JOIN materials m ON m.code = o.material
 WHERE {compatible}"""
        for i, (offers, _) in enumerate(boxes)
    )
    # The request and its boxes computed once, in a query of their own: each read then plans
    # as a small join, its box a value (the planner does not weigh it against both tables'
    # spatial statistics, which costs more than the read).
    return f"""WITH near AS MATERIALIZED (
SELECT r.*, {near} FROM material_requests r {given} WHERE r.id = :anchor_id)
{reads}"""


def _box_within(radius_m: str) -> str:
    return f"CASE WHEN {radius_m} >= 0 THEN {_box('r.location', radius_m)} END"


def sample(columns: str, compatible: str, share: float) -> str:
    """The pairs of `_reads` of the best grade within `share` of the reach."""
    grade, _ = _GRADES[0]
    box = _box_within(f"{_REACH_M} * {share!r}")
    return _reads(columns, compatible, [(f"o.condition = '{grade}'", box)])


def beating(columns: str, compatible: str, threshold: str) -> str:
    """The pairs of `_reads` of every class, as far as an offer of the class can score
    `threshold` (a scalar subquery, read once), within the whole reach when it is null."""
    boxes = [
        (f"o.condition = '{grade}' AND {priced}", _box_within(_radius(value, price, "beat.score")))
        for grade, value in _GRADES
        for priced, price in _PRICES
    ]
    return _reads(
        columns, compatible, boxes, f"CROSS JOIN (SELECT {threshold} AS score OFFSET 0) beat"
    )


def threshold(samples: list[str]) -> str:
    """The score of the first of `samples` that is not null (each a query of one row and one
    column, `score`, as `score_sql.least_of_best` answers); null when none is. Each is read only
    when the one before falls short."""
    return (
        "coalesce(" + ", ".join(f"(SELECT s.score FROM ({sample}) s)" for sample in samples) + ")"
    )
