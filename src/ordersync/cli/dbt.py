"""`ordersync dbt`: a dbt project of one's own on top of ordersync's models."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from ordersync.cli.context import facade, guarded
from ordersync.cli.options import JsonOpt, WarehouseOpt
from ordersync.cli.output import console, print_json
from ordersync.transform.dbt_invoke import PROJECT_DIR
from ordersync.transform.project import PACKAGE_ENV, init_project

app = typer.Typer(help="A dbt project of your own that builds on ordersync's models.", no_args_is_help=True)


@app.command("init")
@guarded
def init(
    directory: Annotated[Path, typer.Argument(help="the folder to write the project in (new or empty)")],
    name: Annotated[
        str | None, typer.Option(help="the dbt project's name (default: the folder's name)", show_default=False)
    ] = None,
    schema: Annotated[str, typer.Option(help="the schema the project's own models go into (never cdp)")] = "analytics",
    force: Annotated[bool, typer.Option("--force", help="write into a folder that is not empty")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a dbt project that depends on ordersync's models as a local package; `[dbt] project_dir`
    then makes every build build it."""
    result = init_project(directory, name=name, schema=schema, force=force)
    if as_json:
        print_json(
            {
                "project_dir": str(result.project_dir),
                "name": result.name,
                "schema": result.schema,
                "files": [str(p) for p in result.files],
                "config": result.config_lines,
            }
        )
        return
    console.print(f"dbt project {result.name} written to {result.project_dir}:", markup=False, highlight=False)
    for path in result.files:
        console.print(f"  {path.relative_to(result.project_dir)}", markup=False, highlight=False)
    console.print("Build it with `ordersync build` by adding to ordersync.toml:", markup=False, highlight=False)
    print(result.config_lines)  # plain, so it can be pasted or appended


@app.command("profiles")
@guarded
def profiles(
    directory: Annotated[Path, typer.Argument(help="the folder to write profiles.yml in (not a dbt project's)")],
    force: Annotated[bool, typer.Option("--force", help="overwrite a profiles.yml ordersync did not write")] = False,
    as_json: JsonOpt = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write profiles.yml (mode 0600) with profile `ordersync` for this warehouse, for plain dbt runs."""
    with facade(warehouse, progress=False) as os_:
        path = os_.write_dbt_profiles(directory, force=force)
    if as_json:
        print_json({"profiles": str(path), "profiles_dir": str(path.parent), PACKAGE_ENV: str(PROJECT_DIR)})
        return
    console.print(f"wrote {path} (mode 0600; it may hold the warehouse password)", markup=False, highlight=False)
    console.print(f"run plain dbt with --profiles-dir {path.parent}; ordersync's models are at:", markup=False)
    print(f"export {PACKAGE_ENV}={shlex.quote(str(PROJECT_DIR))}")
