"""Reproducible comparisons built from the library's parts (used by the CLI and `benchmarks/`)."""
