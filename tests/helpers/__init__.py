"""Helpers shared by the test suite (importable as ``helpers.*``: pytest puts tests/ on sys.path)."""
