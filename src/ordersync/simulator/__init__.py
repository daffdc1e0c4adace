"""A VTEX-compatible store server for tests, benchmarks and demos.

It serves the OMS list and get-order endpoints, Feed v3 and Hook for many accounts, with index lag, the
30-page cap, rate limits and faults, over orders generated deterministically from a seed and kept in
numpy columns.

The package exports only its configuration, which is light: the server (`simulator.server`), the app
(`simulator.app`) and the order catalogue (`simulator.lifecycle`) pull in numpy and uvicorn, so a
command that only reads the simulator's defaults (`ordersync --help`) does not import them.
"""

from ordersync.simulator.config import AccountSpec, SimulatorConfig, default_accounts, parse_account_spec

__all__ = ["AccountSpec", "SimulatorConfig", "default_accounts", "parse_account_spec"]
