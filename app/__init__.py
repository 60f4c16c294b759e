"""boucle: the HTTP service.

Layers. A package imports only the packages below it (tests/test_import_layers.py reads the
imports and fails on a cycle). The infrastructure lies under every domain package: `kit` at
the bottom, which knows nothing of the app (problems and their handlers, the request's session
and its transaction, owned rows, pagination, geometry), then `settings`, `db`, `models`, `auth`,
`gateway` (rate limits, Idempotency-Key), `jobs` (the queue, tracked jobs, child processes)
and `webhooks` (the outbox and its deliveries). At the top, `main` (the HTTP app), `worker`
(the job processes and every task) and `cli`. The domain, from the bottom up:

- `materials`, `sites`: the list of waste; the places of an organization.
- `districts`: the shopping districts, derived from the OSM extract's shops; the one a
  delivery point lies in.
- `geocoding`: Brussels addresses to points, over the streets and house numbers of the OSM
  extract (its loader, its `geocode()` for the domains above it).
- `listings`: offers and requests, what each kind is (rows, rules, schemas, views), their
  writes and the one router factory that serves both; what else a write makes happen is
  handed in from above (`ListingEffects`).
- `candidates`: which open offers fit which open requests, ranked; a new offer announced.
- `hubs`: yards and their stock; every change of stock goes through `app.hubs.stock`
  (movements, the lot's offer kept in step); a match's delivery fulfils it here.
- `matches`: proposals, acceptance (reserving on offers, requests and lots), expiry when a
  term a proposal relied on changes.
- `shipments` (a match's shipment included), then `route_plans`; `matching_runs`.
- `offers`, `requests`: the two kinds wired together: their routers, the effects of their
  writes (reaching candidates, hubs and matches), the offers' announcement job.
- `deliveries`: carriers' delivery services and the shops' quotes and deliveries, fitted into
  a slot's rounds by insertion and planned at its cut-off as route plans; on the fleet,
  geocoding and route plans below.
"""
