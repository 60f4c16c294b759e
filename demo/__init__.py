"""The Brussels demo, outside the service: the data `make run` seeds (`demo.seed`) and the day
`make demo` plays through the API (`demo.day`); `python -m demo` runs either. The service never
imports it, and its image does not ship it."""
