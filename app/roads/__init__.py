"""The road network of Brussels in PostGIS with pgRouting: its bike and van networks
(`networks`), their load from OpenStreetMap (`loader`, run by `python -m app.cli roads`), and
what a plan's job asks of them (`routing`)."""
