"""The worker processes: every task of the service registered on one job app, and the process
that serves its queues (`python -m app.worker`)."""
