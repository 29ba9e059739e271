"""Benchmarks for parta: programs run by hand, not part of the server or the tests."""
