"""`python -m app.worker [--queues plans,events]`: see `app.worker.process`."""

from app.worker.process import main

main()
