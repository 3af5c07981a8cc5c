"""Benchmarks; each module's docstring says what it measures and against what."""
