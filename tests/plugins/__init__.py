"""Fixtures shared across test areas, registered in tests/conftest.py with `pytest_plugins`."""
