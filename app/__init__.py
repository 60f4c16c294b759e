"""boucle: the HTTP service."""
