"""A dbt project of one's own: `ordersync dbt init` writes one that depends on the shipped models as
the local package `ordersync`, and the runner prepares one (`dbt deps`) before building it.

The package entry in packages.yml is `{{ env_var('ORDERSYNC_DBT_PROJECT', <path at init>) }}`: the
runner sets the variable to the models of the ordersync it runs, so a reinstall elsewhere needs no
edit; plain dbt falls back to the path written at init. dbt installs packages into the project's
own `dbt_packages/` (a symlink for a local package) and writes `package-lock.yml` beside it, as
for any dbt project; nothing holding a password is ever written into the project folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # dbt's own dependency

from ordersync.errors import ConfigError, TransformError
from ordersync.transform.dbt_invoke import PROJECT_DIR, invoke, one_line, write_profiles

#: The environment variable packages.yml reads the package's path from.
PACKAGE_ENV = "ORDERSYNC_DBT_PROJECT"
#: The shipped project's name: its nodes are `model.ordersync.<name>`.
PACKAGE_NAME = "ordersync"
#: Where the team's own models go unless `--schema` says otherwise.
DEFAULT_SCHEMA = "analytics"
#: The schema ordersync owns.
OWN_SCHEMA = "cdp"

_TEMPLATE = Path(str(resources.files("ordersync.transform") / "project_template"))
_TEMPLATE_FILES = (
    "dbt_project.yml",
    "packages.yml",
    "macros/generate_schema_name.sql",
    "models/example_orders_by_channel.sql",
    "README.md",
)
_GITIGNORE = "target/\nlogs/\ndbt_packages/\n# holds this machine's path to ordersync's models\npackage-lock.yml\n"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_PROFILES_HEADER = "# Written by `ordersync dbt profiles`"
_DEPS_STAMP = "deps.json"


@dataclass(frozen=True)
class InitResult:
    """What `init_project` wrote."""

    project_dir: Path
    name: str
    schema: str
    files: tuple[Path, ...]

    @property
    def config_lines(self) -> str:
        """The lines that make `ordersync build` build this project."""
        return f"[dbt]\nproject_dir = {_toml_string(self.project_dir)}"


def init_project(
    directory: Path, *, name: str | None = None, schema: str = DEFAULT_SCHEMA, force: bool = False
) -> InitResult:
    """Write a dbt project in `directory` that builds ordersync's models (as a package) and its own.

    Refuses a folder that exists and is not empty unless `force` (which overwrites only the files
    it writes). `name` defaults to the folder's name made a dbt identifier; `schema` is where the
    project's own models go (never cdp)."""
    root = Path(directory).expanduser().resolve()
    name = name if name is not None else _name_from(root)
    _check_identifier("project name (--name)", name)
    if name == PACKAGE_NAME:
        raise ConfigError(
            f"the project cannot be named {PACKAGE_NAME!r}: that is the package it depends on; pick another --name"
        )
    _check_identifier("schema (--schema)", schema)
    if schema == OWN_SCHEMA:
        raise ConfigError(
            f"schema {OWN_SCHEMA!r} belongs to ordersync's own tables; give the project's models another --schema"
        )
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} exists and is not a folder; pick another one")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise ConfigError(
            f"{root} is not empty; pick an empty or new folder, or pass --force to overwrite the files init writes"
        )

    shipped_vars = _shipped_vars()
    values = {
        "@@NAME@@": name,
        "@@SCHEMA@@": schema,
        "@@DIR_TOML@@": _toml_string(root),
        "@@PACKAGE_ENTRY@@": package_entry(PROJECT_DIR),
        "@@VARS@@": "\n".join(f"  {k}: {json.dumps(v)}" for k, v in shipped_vars.items()),
    }
    written: list[Path] = []
    for relative in _TEMPLATE_FILES:
        text = (_TEMPLATE / relative).read_text(encoding="utf-8")
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        written.append(_write(root / relative, text))
    written.append(_write(root / ".gitignore", _GITIGNORE))
    return InitResult(project_dir=root, name=name, schema=schema, files=tuple(written))


def write_user_profiles(folder: Path, target: Mapping[str, Any], *, force: bool = False) -> Path:
    """Write `folder/profiles.yml` (mode 0600) with profile `ordersync` for plain dbt runs.

    It may hold the warehouse password, so a dbt project folder (one with a dbt_project.yml, most
    likely under version control) is refused, and so is overwriting a profiles.yml ordersync did
    not write unless `force`."""
    folder = Path(folder).expanduser().resolve()
    if (folder / "dbt_project.yml").exists():
        raise ConfigError(
            f"{folder} is a dbt project folder; profiles.yml may hold the warehouse password, so write it "
            "elsewhere (e.g. ~/.ordersync-dbt) and pass that folder to dbt with --profiles-dir"
        )
    path = folder / "profiles.yml"
    if path.exists() and not force and not _ours(path):
        raise ConfigError(f"{path} exists and was not written by ordersync; pick another folder or pass --force")
    folder.mkdir(parents=True, exist_ok=True)
    return write_profiles(folder, target, note=f"{_PROFILES_HEADER}; may hold the warehouse password.")


# -- preparing a project for a build (called by run_dbt) ----------------------------------------------


def prepare(project_dir: Path, state_dir: Path) -> Path:
    """The project's folder, ready for `dbt build`: run `dbt deps` when its install folder does not
    hold this ordersync's models or its package files changed since the last deps from this
    state_dir. Call with the runner's locks held and `package_env()` in force."""
    root = Path(project_dir).expanduser().resolve()
    if root == PROJECT_DIR.resolve():
        return root
    if not (root / "dbt_project.yml").is_file():
        raise ConfigError(
            f"[dbt] project_dir {root} holds no dbt_project.yml; write one with `ordersync dbt init {root}` "
            "or remove [dbt] project_dir to build ordersync's own models"
        )
    specs = [root / n for n in ("packages.yml", "dependencies.yml") if (root / n).is_file()]
    if not specs:
        raise ConfigError(
            f"the dbt project {root} has no packages.yml, so it does not build ordersync's models; list "
            f"them as `- local: \"{{{{ env_var('{PACKAGE_ENV}') }}}}\"` (as `ordersync dbt init` writes it)"
        )
    installed = _install_dir(root) / PACKAGE_NAME
    digest = _digest([str(PROJECT_DIR).encode(), *(p.read_bytes() for p in specs)])
    stamp = state_dir / _DEPS_STAMP
    if _is_this_package(installed) and _read_stamp(stamp) == {"project": str(root), "digest": digest}:
        return root
    outcome = invoke(
        [
            "deps",
            "--project-dir",
            str(root),
            "--log-path",
            str(state_dir / "logs"),
            "--no-send-anonymous-usage-stats",
            "--no-version-check",
            "--no-use-colors",
            "--log-level",
            "none",
            "--log-level-file",
            "debug",
        ]
    )
    if outcome.exception is not None or not outcome.success:
        why = one_line(str(outcome.exception)) if outcome.exception is not None else "see the log"
        raise TransformError(f"dbt deps failed in {root}: {why} (log: {state_dir / 'logs'})")
    if not _is_this_package(installed):
        found = os.path.realpath(installed) if os.path.lexists(installed) else "nothing"
        raise ConfigError(
            f"{root}/packages.yml does not point at this ordersync's models ({PROJECT_DIR}): dbt deps installed "
            f"{found} as package {PACKAGE_NAME}; make its entry `- local: \"{{{{ env_var('{PACKAGE_ENV}', ...) }}}}\"` "
            "as `ordersync dbt init` writes it"
        )
    _write_stamp(stamp, {"project": str(root), "digest": digest})
    return root


@contextlib.contextmanager
def package_env() -> Iterator[None]:
    """packages.yml finds this ordersync's models through PACKAGE_ENV while dbt runs."""
    saved = os.environ.get(PACKAGE_ENV)
    os.environ[PACKAGE_ENV] = str(PROJECT_DIR)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(PACKAGE_ENV, None)
        else:
            os.environ[PACKAGE_ENV] = saved


def package_entry(default: Path) -> str:
    """packages.yml's `local:` value: PACKAGE_ENV's path, else `default` (a YAML string of Jinja)."""
    literal = "'" + str(default).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return json.dumps(f"{{{{ env_var('{PACKAGE_ENV}', {literal}) }}}}", ensure_ascii=False)  # JSON is YAML


def shipped_models() -> frozenset[str]:
    """The unique ids of the shipped models, which every unselected build must run."""
    return frozenset(f"model.{PACKAGE_NAME}.{p.stem}" for p in (PROJECT_DIR / "models").rglob("*.sql"))


# -- helpers --------------------------------------------------------------------------------------------


def _name_from(root: Path) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", root.name.lower()).strip("_") or "analytics"
    return f"p_{name}" if name[0].isdigit() else name


def _check_identifier(what: str, value: str) -> None:
    if not _IDENTIFIER.fullmatch(value):
        raise ConfigError(
            f"{what} {value!r} is not a dbt identifier: use lowercase letters, digits and _, not first a digit"
        )


def _toml_string(path: Path) -> str:
    return json.dumps(str(path), ensure_ascii=False)  # a JSON string is a TOML basic string


def _shipped_vars() -> dict[str, Any]:
    loaded = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(loaded.get("vars") or {})


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _ours(path: Path) -> bool:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.readline().startswith(_PROFILES_HEADER)


def _install_dir(root: Path) -> Path:
    """The project's packages-install-path (dbt's default dbt_packages), absolute."""
    try:
        loaded = yaml.safe_load((root / "dbt_project.yml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        loaded = None  # dbt itself says what is wrong with the file
    value = loaded.get("packages-install-path") if isinstance(loaded, dict) else None
    return root / (value if isinstance(value, str) and value else "dbt_packages")


def _is_this_package(installed: Path) -> bool:
    """`installed` is this ordersync's models: a link to them (what dbt deps makes), or a copy of
    them (where links are not available)."""
    if not installed.is_dir():
        return False
    if installed.resolve() == PROJECT_DIR.resolve():
        return True
    return not installed.is_symlink() and _tree_digest(installed) == _tree_digest(PROJECT_DIR)


def _tree_digest(root: Path) -> str:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return _digest(part for p in files for part in (str(p.relative_to(root)).encode(), p.read_bytes()))


def _digest(parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def _read_stamp(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_stamp(path: Path, value: Mapping[str, str]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".deps.", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(value, f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
