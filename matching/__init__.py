"""The matching engine: candidate pairs scored and allocated. Plain data in, plain data out; it
never imports `app`, FastAPI or SQLAlchemy (the app's `app.candidates.repository` finds the
pairs in the database)."""
