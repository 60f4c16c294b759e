from app.listings.offers import OFFERS
from app.listings.router import ListingTexts, Operation, listing_router
from app.offers.service import OFFER_EFFECTS

TEXTS = ListingTexts(
    create=Operation(
        "Offer material (role supplier or hub_operator)",
        "Posts an offer of your organization at one of your sites or at a point, "
        "and answers 201 with it, its `ETag` and its `Location`. The requests it fits hear of it "
        "(`offer.candidate_found`) within moments. An organization without the supplier or "
        "hub_operator role answers 403; a material not in the EWC list, a window that ends before "
        "it starts or a mass that contradicts the quantity answer 422, each field named.",
    ),
    list=Operation(
        "Offers of every organization as GeoJSON, nearest first when `near` is given",
        "Everyone's offers as a GeoJSON FeatureCollection (`application/geo+json`) "
        "that QGIS and Leaflet read as they are: another organization's with their public fields, "
        "yours with all of them. Oldest first, or nearest first with `near=lon,lat` (and within "
        "`radius_km` when given), each with its `distance_m`. A full page has a `next` link. A "
        "`near` given as lat,lon answers 422 `lon_lat_order`, with the order meant.",
    ),
    read=Operation(
        "One offer; private fields only for its owner",
        "The offer with its `ETag`: all its fields for its organization; for "
        "anyone else its public fields, without `site_id` and `notes`.",
    ),
    update=Operation(
        "Change your offer (send `If-Match` with its ETag)",
        "Changes the fields sent; the result follows the rules of a create. Changing "
        "a term a proposal relies on (material, condition, window, place, price, min lot, a "
        "piece's mass or volume, or closing it) expires the proposals on it, and both sides hear "
        "`match.expired`. Another organization's offer answers 403; with `If-Match`, an offer "
        "changed since you read it answers 412.",
    ),
    delete=Operation(
        "Withdraw your offer",
        "Deletes your offer; 204 on success. An offer that matches name answers 409: "
        "close it (`status: closed`) instead. Another organization's offer answers 403.",
    ),
    not_found="No offer with this id.",
    refused="A yard's lot offer, kept in step with its movements, cannot be changed by hand; "
    "or matches still hold part of it (a quantity below what they reserved, a delete).",
)

router = listing_router(OFFERS, OFFER_EFFECTS, TEXTS)
