"""The transform: the dbt project shipped in this package (stg_orders, fct_orders, order_events)
and the in-process runner that builds it against the configured warehouse."""

from __future__ import annotations

from ordersync.transform.dbt_invoke import PROJECT_DIR, write_profiles
from ordersync.transform.runner import DbtCommand, DbtResult, NodeResult, run_dbt

__all__ = ["PROJECT_DIR", "DbtCommand", "DbtResult", "NodeResult", "run_dbt", "write_profiles"]
