"""Pieces shared by every domain: pagination, GeoJSON, ETags, idempotency, body limits."""
