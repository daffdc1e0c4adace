"""A VTEX-compatible store server for tests, benchmarks and demos.

It serves the OMS list and get-order endpoints, Feed v3 and Hook for many accounts, with index lag, the
30-page cap, rate limits and faults, over orders generated deterministically from a seed and kept in
numpy columns.
"""

from ordersync.simulator.app import SimulatorApp, build_app
from ordersync.simulator.config import AccountSpec, SimulatorConfig, default_accounts, parse_account_spec
from ordersync.simulator.lifecycle import MAX_CHANGE_HOURS, STATUS_NAMES
from ordersync.simulator.server import RunningSimulator, serve, start_in_subprocess, start_in_thread

__all__ = [
    "MAX_CHANGE_HOURS",
    "STATUS_NAMES",
    "AccountSpec",
    "RunningSimulator",
    "SimulatorApp",
    "SimulatorConfig",
    "build_app",
    "default_accounts",
    "parse_account_spec",
    "serve",
    "start_in_subprocess",
    "start_in_thread",
]
