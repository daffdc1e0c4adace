"""`ordersync demo`: the built-in simulator, a few stores, a sync, the models, a table per tenant."""

from __future__ import annotations

import os
import time
from typing import Annotated

import typer

from ordersync.cli.context import STATE, WarehouseOpt, facade, run_guarded
from ordersync.cli.output import console, err_console, print_table
from ordersync.clock import ManualClock

DEMO_KEY_ENV = "ORDERSYNC_DEMO_APP_KEY"
DEMO_TOKEN_ENV = "ORDERSYNC_DEMO_APP_TOKEN"
DEMO_STORES = (("petbaar", 450), ("sevensport", 160), ("zapatosnet", 60))


def demo(
    days: Annotated[int, typer.Option(help="days of order history in each simulated store")] = 21,
    hours_later: Annotated[float, typer.Option(help="simulated hours between the two syncs")] = 6.0,
    warehouse: WarehouseOpt = None,
) -> None:
    """Start the simulator with a few stores, register them, sync, build, and show the result."""
    from ordersync.simulator import AccountSpec, SimulatorConfig, start_in_subprocess

    def go() -> None:
        began = time.perf_counter()
        config = SimulatorConfig(
            port=0,
            days=days,
            speed=0.0,
            # VTEX allows 6,000 requests a minute per account; the demo's stores are local and faster
            rate_limit_per_minute=120_000,
            accounts=[AccountSpec(name=n, orders_per_day=d) for n, d in DEMO_STORES],
        )
        os.environ[DEMO_KEY_ENV] = config.app_key
        # the demo's stores allow more than a real store; the client paces itself to what they allow
        STATE.overrides.setdefault("sync", {})["requests_per_minute"] = config.rate_limit_per_minute
        os.environ[DEMO_TOKEN_ENV] = config.app_token
        with start_in_subprocess(config) as sim:
            console.print(f"simulator serving {len(DEMO_STORES)} stores at {sim.url}")
            clock = ManualClock(sim.clock())
            with facade(warehouse, clock=clock) as os_:
                os_.upgrade()
                console.print(f"warehouse: {os_.wh.display_url}")
                known = {t.tenant_name for t in os_.tenants.list()}
                for name, _ in DEMO_STORES:
                    if name in known:
                        os_.tenants.set_endpoint(name, sim.base_url(name), name)
                    else:
                        os_.add_tenant(
                            name,
                            account=name,
                            base_url=sim.base_url(name),
                            app_key_env=DEMO_KEY_ENV,
                            app_token_env=DEMO_TOKEN_ENV,
                        )
                names = [n for n, _ in DEMO_STORES]
                first = os_.sync(names, build=False)
                sim.advance(hours_later * 3600)
                clock.set(sim.clock())
                second = os_.sync(names)
                status = {s["tenant"]: s for s in os_.status()}
                rows = []
                for name in names:
                    runs = [o for o in first.outcomes + second.outcomes if o.tenant_name == name]
                    rows.append(
                        {
                            "tenant": name,
                            "orders landed": status[name]["orders_landed"],
                            "orders in fct_orders": status[name]["orders_in_fct"],
                            "versions caught late": sum(o.counters.late_versions for o in runs),
                            "seconds": round(sum(o.seconds for o in runs), 1),
                            "runs": "ok" if all(o.status == "succeeded" for o in runs) else "failed",
                        }
                    )
        print_table("ordersync demo", rows)
        console.print(
            f"two syncs {hours_later:g} simulated hours apart and one dbt build in "
            f"{time.perf_counter() - began:.1f} s; try `ordersync status`"
        )
        errors = [o.error or o.status for o in first.outcomes + second.outcomes if o.status != "succeeded"]
        if errors:
            err_console.print(f"[red]error:[/red] {errors[0]}")
            raise typer.Exit(1)

    run_guarded(go)
