"""Benchmarks (scripts, not tests): ``python -m benchmarks`` runs them all."""
