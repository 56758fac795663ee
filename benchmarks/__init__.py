"""Benchmarks of the provider against the shipped emulator: ``bash scripts/bench`` (see the README)."""
