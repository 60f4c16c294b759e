"""The matching engine: candidate search, scoring and allocation. Plain data in, plain data out;
it never imports `app` or FastAPI."""
