"""What a request goes through before its route: the rate limit and the Idempotency-Key, which
know API keys and keep rows of their own."""
