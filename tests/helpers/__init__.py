"""Shared test helpers and fixture plugins (registered in tests/conftest.py's ``pytest_plugins``).

Test modules use fixtures by name and import plain helper functions from here; they never
import another test module.
"""
