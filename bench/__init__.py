"""Benchmarks of the inference service: `python -m bench` (or `make bench`)."""
