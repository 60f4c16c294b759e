from app.listings.requests import REQUESTS
from app.listings.router import ListingTexts, Operation, listing_router
from app.requests.service import REQUEST_EFFECTS

TEXTS = ListingTexts(
    create=Operation(
        "Ask for material (role consumer or hub_operator)",
        "Posts a request of your organization, delivered at one of your sites or at "
        "a point, and answers 201 with it, its `ETag` and its `Location`; its candidates are at "
        "/v1/requests/{id}/candidates. An organization without the consumer or hub_operator role "
        "answers 403; a material not in the EWC list or a window that ends before it starts "
        "answer 422, each field named.",
    ),
    list=Operation(
        "Requests of every organization as GeoJSON, nearest first when `near` is given",
        "Everyone's requests as a GeoJSON FeatureCollection (`application/geo+json`): "
        "another organization's with their public fields, yours with all of them. Oldest first, "
        "or nearest first with `near=lon,lat` (and within `radius_km` when given), each with its "
        "`distance_m`. A full page has a `next` link. A `near` given as lat,lon answers 422 "
        "`lon_lat_order`, with the order meant.",
    ),
    read=Operation(
        "One request; private fields only for its owner",
        "The request with its `ETag`: all its fields for its organization; for "
        "anyone else its public fields, without `site_id` and `notes`.",
    ),
    update=Operation(
        "Change your request (send `If-Match` with its ETag)",
        "Changes the fields sent; the result follows the rules of a create. Changing "
        "a term a proposal relies on (material, condition, window, place, distance, price, or "
        "closing it) expires the proposals on it, and both sides hear `match.expired`. Another "
        "organization's request answers 403; with `If-Match`, a request changed since you read "
        "it answers 412.",
    ),
    delete=Operation(
        "Withdraw your request",
        "Deletes your request; 204 on success. A request that matches name answers "
        "409: close it (`status: closed`) instead. Another organization's request answers 403.",
    ),
    not_found="No request with this id.",
    refused="Matches still hold part of it: a quantity below what they reserved, a unit change, "
    "a delete.",
)

router = listing_router(REQUESTS, REQUEST_EFFECTS, TEXTS)
