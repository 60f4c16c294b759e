"""What the tests and the benchmarks both stand up, with real parts: a throwaway PostgreSQL
cluster (`cluster`), databases of the service on it with their roles (`database`), the service's
settings on them (`service`), organizations and bodies sent through the API (`api`), webhook
receivers (`receivers`) and worker processes (`workers`). The tests' fixtures
(tests/conftest.py) and the benchmarks (bench/) import it; the service never does."""
