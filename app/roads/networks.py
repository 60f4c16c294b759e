"""The networks built from the osm2pgrouting import (schema `roads`): the van keeps off
footways, cycleways, paths, steps, pedestrian streets and tracks; the bike keeps off motorways
and trunk roads. Both follow one-way streets (OSM 2013). Each keeps the largest connected part
of its network, so that every point snaps to a vertex it can leave and reach. A network's name is part of its tables'
names (`roads.edges_van`, `roads.vertices_bike`), so the SQL takes only the names below."""

# osm2pgrouting's mapconfig.xml tag ids.
VAN_FORBIDDEN = (113, 114, 117, 118, 119, 120, 122)
BIKE_FORBIDDEN = (101, 102, 103, 104, 105)
PROFILES = {"van": VAN_FORBIDDEN, "bike": BIKE_FORBIDDEN}


def known_network(network: str) -> str:
    if network not in PROFILES:
        raise ValueError(f"no road network {network!r}; the networks are {', '.join(PROFILES)}")
    return network
