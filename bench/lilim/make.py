"""Writes the small Li & Lim instances beside it (seeded: the same files every time).

    python bench/lilim/make.py

Pairs scattered over a 100 x 100 square around a central depot, a pickup window of 120 in a
horizon of 1000 and a delivery window opening when the goods could first get there; the
speed field is 0, as in the files in circulation (unit speed)."""

import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def instance(pairs: int, capacity: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    rows = [(0, 50.0, 50.0, 0, 0, 1200, 0, 0, 0)]
    for k in range(pairs):
        p, d = 2 * k + 1, 2 * k + 2
        (px, py), (dx, dy) = rng.uniform(0, 100, size=(2, 2)).round(1)
        demand = int(rng.integers(10, 31))
        ready = int(rng.integers(0, 600))
        opens = ready + math.ceil(math.dist((px, py), (dx, dy))) + 10
        rows.append((p, px, py, demand, ready, ready + 120, 10, 0, d))
        rows.append((d, dx, dy, -demand, opens, opens + 200, 10, p, 0))
    lines = [f"{pairs}\t{capacity}\t0"]
    lines += ["\t".join(str(x) for x in row) for row in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    for name, pairs, capacity, seed in [
        ("boucle-pd10", 10, 60, 10),
        ("boucle-pd25", 25, 80, 25),
        ("boucle-pd50", 50, 100, 50),
    ]:
        (HERE / f"{name}.txt").write_text(instance(pairs, capacity, seed))
