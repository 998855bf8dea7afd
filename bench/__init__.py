"""The benchmark: `make bench` seeds a clinic, serves it with gunicorn and drives it with wrk."""
