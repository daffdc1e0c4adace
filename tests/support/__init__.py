"""Helpers the tests share, one module per topic, imported as `from support.sim import ...`
(tests/ is on the import path: pyproject's pythonpath). Test records (VTEX get-order bodies,
order events) come from tests/factories.py."""
