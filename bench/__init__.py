"""Benchmarks of expbot side by side with MLflow; run with `python -m bench`."""
