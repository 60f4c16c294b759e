"""Shopping districts (COMM 12's shared cargo-bike rounds go to them): derived from the shops of
the Brussels OSM extract (`loader`, run by `python -m app.cli districts`), read by any
organization (`router`), and the district a delivery point lies in (`service.district_at`)."""
