"""Sections of docs/reliability.md written by hand (the guarantees the trials do not measure), kept
when `bench/chaos.py` writes the file again."""

BAD_DATA = """## No value can break a build, and one tenant's bad data never stops the others

- **Wide enough for what validation lets in.** One order's `total_value` is at most
  999,999,999,999.99 (12 integer digits, `land/records.py` `MAX_CENTS`; the landing column is
  NUMERIC(18, 2)), and any number of orders may fall on one day. So every sum of money in the models
  (`revenue_daily`'s revenue, pending, canceled and average values, `previous_revenue`, the revision
  notices, reconciliation's daily totals) is NUMERIC(38, 2): 36 integer digits, room for 10^24 of the
  largest orders on one day, and the widest decimal DuckDB has; counts are BIGINT. Both choices hold:
  the widening holds for any bound the landing column allows, and the bound per order leaves room to
  spare. The average order value is divided exactly, in whole cents rounded half up (DuckDB divides
  decimals as doubles, off by units past 10^15): `transform/dbt/macros/money.sql`. Migration 0008
  widens the tables earlier builds made. Tested by a property test pushing the extremes (the largest
  total, many on one day, zero, the smallest cent) and building on both warehouses, with exact sums
  (`tests/transform/test_extreme_values.py`); two orders of 9,000,000,000,000,000.00 on one day used
  to fail every build of every tenant.
- **A failing tenant is isolated.** A build runs once for every tenant; only when it fails does
  ordersync build halves of the tenant list (down to single tenants, about two builds per halving) to
  find the tenants whose data fails it (`transform/isolation.py`; the models filter tenants with the
  `tenant_in_build` macro, which a model of one's own reading tenant data should use too). The others
  are built; the failing ones are named in `cdp.build_runs.failed_tenants` and `ordersync status`
  ("left out of builds since ...", `build_held` in `--json`), and held in `cdp.held_tenants` with
  where their data must be read from again: every later build tries them again, reading their landing
  batches from where they were left out, so nothing they landed meanwhile is skipped. A failure that
  is not the data's (every tenant fails alone and a build of no tenant fails too) fails the build as
  before. A data test that fails on rows of an earlier build is not isolated this way (the tests read
  the rows of the latest build, whichever tenant wrote them).
- **The way out when bad data landed**: `ordersync quarantine add --tenant T --order ID [--version
  HASH] --reason TEXT [--by NAME]` withdraws a landed version (or every version of the order), kept
  in `cdp.withdrawals` with who, when and why; `ordersync quarantine withdrawals [--all]` lists them and
  `ordersync quarantine release ID --reason TEXT` undoes one. The ledger keeps every version;
  `stg_orders` leaves withdrawn ones out and the next build picks each such order again (its previous
  version, even one older than the built row, or none: the order leaves `fct_orders`) and recomputes
  its days' revenue. `ordersync verify` audits against the versions still standing. Revenue `--as-of`
  answers from the ledger as it was known, withdrawn versions included.
- **The dbt profile holds no password**: the profile ordersync writes under `[dbt] state_dir` reads
  it with `env_var('ORDERSYNC_DBT_PASSWORD')`, a variable set only while dbt runs in the process.
"""
