"""What else happens when a request is written: the proposals on a changed term expire."""

from app.listings.kind import ListingEffects
from app.matches.terms import expire_proposals_on_change
from app.models import MaterialRequest

REQUEST_EFFECTS = ListingEffects[MaterialRequest](on_patched=expire_proposals_on_change)
