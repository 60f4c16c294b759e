"""What the open data shows of a listing, defined here once: some of the public fields of the
API's views (app.listings.offers.OfferPublicFields, app.listings.requests.RequestPublicFields),
each named with the API field it shows, and none of what an organization shows only to the
organizations it deals with (its id, a price, a description) or keeps to itself (notes, site).
The `ogc` views (migrations 0011 and 0013) answer these columns and no other:
tests/test_ogc_api.py holds both to it."""

# The open data's column, and the field of the API's public view it comes from.
OPEN_OFFER_FIELDS = {
    "id": "id",
    "title": "title",
    "material": "material",
    "chapter": "material",
    "chapter_title": "material",
    "item_type": "item_type",
    "quantity_value": "quantity",
    "quantity_unit": "quantity",
    "remaining_value": "remaining",
    "mass_kg": "mass_kg",
    "condition": "condition",
    "available_from": "available_from",
    "available_until": "available_until",
}
OPEN_REQUEST_FIELDS = {
    "id": "id",
    "title": "title",
    "material": "material",
    "chapter": "material",
    "chapter_title": "material",
    "quantity_value": "quantity",
    "quantity_unit": "quantity",
    "remaining_value": "remaining",
    "mass_kg": "mass_kg",
    "min_condition": "min_condition",
    "needed_from": "needed_from",
    "needed_by": "needed_by",
}
