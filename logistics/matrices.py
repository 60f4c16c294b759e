"""Travel matrices behind one interface: a function from points to distances (metres) and
durations (seconds) for one travel profile. The straight line with a detour factor is always
there; the road network comes from pgRouting (see app/roads)."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from logistics.model import Matrices

EARTH_RADIUS_M = 6_371_008.8
# How much longer a trip in Brussels is than the straight line, on average.
DETOUR_FACTOR = 1.3


@dataclass(frozen=True)
class Profile:
    name: str
    speed_kmh: float


def haversine_m(points: Sequence[tuple[float, float]]) -> np.ndarray:
    """Great-circle distances in metres between (lon, lat) points."""
    lonlat = np.radians(np.asarray(points, dtype=float))
    lon, lat = lonlat[:, 0][:, None], lonlat[:, 1][:, None]
    a = (
        np.sin((lat.T - lat) / 2) ** 2
        + np.cos(lat) * np.cos(lat.T) * np.sin((lon.T - lon) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def straight_line(
    points: Sequence[tuple[float, float]], profile: Profile, detour: float = DETOUR_FACTOR
) -> Matrices:
    distance = haversine_m(points) * detour
    duration = distance / (profile.speed_kmh / 3.6)
    return Matrices(np.rint(distance).astype(np.int64), np.ceil(duration).astype(np.int64))
