"""Loading the settings: the layers read in order, and every key checked before it is used.

An unknown key at any level, in the file or in a variable, is an error naming the nearest valid
key; the valid keys are read from the model classes, so a new section is checked without a list
here. Errors name where a value came from (file, variable, flag) and never echo the value.
"""

from __future__ import annotations

import difflib
import functools
import json
import tomllib
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, overload

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings.exceptions import SettingsError

from ordersync.config.settings import CONFIG_FILE, ENV_PREFIX, ENV_SHORT_WAREHOUSE, FILE_VALUES, Settings
from ordersync.errors import ConfigError
from ordersync.secrets import command_variables, register_url_secrets

SettingsT = TypeVar("SettingsT", bound=Settings)


@overload
def load_settings(config_file: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings: ...


@overload
def load_settings(
    config_file: Path | None = None, overrides: dict[str, Any] | None = None, *, settings_cls: type[SettingsT]
) -> SettingsT: ...


def load_settings(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    settings_cls: type[Settings] = Settings,
) -> Settings:
    """Build the settings from every layer; flags come in as `overrides` ({"warehouse": {"url": ...}}).

    Raises ConfigError naming the key and where it came from for an unknown key (with the nearest
    valid one) or a value of the wrong type (without echoing the value). `settings_cls` is a
    subclass of Settings with more sections; its keys are checked the same way.
    """
    path = config_file or Path(CONFIG_FILE)
    if config_file is not None and not config_file.exists():
        raise ConfigError(f"config file {config_file} does not exist; create it or drop --config")
    origins: dict[tuple[str, ...], str] = {}
    file_values = _read_toml(path) if path.is_file() else {}
    _register_raw_url(file_values)
    _check_keys(settings_cls, file_values, (), f" in {path}", origins, str(path))
    _check_env(settings_cls, command_variables(), origins)
    flags = _without_none(overrides or {})
    short = _env_get(ENV_SHORT_WAREHOUSE)
    if short and _env_get(f"{ENV_PREFIX}WAREHOUSE__URL") is None and "url" not in flags.get("warehouse", {}):
        flags.setdefault("warehouse", {})["url"] = short
        origins[("warehouse", "url")] = ENV_SHORT_WAREHOUSE
    _register_raw_url(flags)
    _check_keys(settings_cls, flags, (), " given as a flag", origins, "flags")
    token = FILE_VALUES.set(file_values)
    try:
        return settings_cls(**flags)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origins)) from exc
    except SettingsError as exc:  # an ORDERSYNC__SECTION variable that is not valid JSON
        raise ConfigError(f"invalid configuration: {exc}; give a section's keys one variable each") from exc
    finally:
        FILE_VALUES.reset(token)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix the file and run again") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of the flag values without the flags left unset."""
    return {k: _without_none(v) if isinstance(v, Mapping) else v for k, v in values.items() if v is not None}


def _env_get(name: str) -> str | None:
    """Environment variables are matched without regard to case, as pydantic-settings does."""
    wanted = name.upper()
    return next((v for k, v in command_variables().items() if k.upper() == wanted), None)


def _register_raw_url(values: Mapping[str, Any]) -> None:
    # remembered before validation, so even a refused configuration cannot print the password
    section = values.get("warehouse")
    if isinstance(section, Mapping) and isinstance(section.get("url"), str):
        register_url_secrets(section["url"])


# --- which keys exist -------------------------------------------------------------------------


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class of a section field (`Model`, `Model | None`), None for a plain value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _takes_any_keys(info: FieldInfo) -> bool:
    annotation = info.annotation
    return annotation is Any or get_origin(annotation) in (dict, Mapping) or annotation is dict


def _keys(model: type[BaseModel]) -> dict[str, str]:
    """Every key the model accepts (field names and string aliases) -> its field name."""
    out: dict[str, str] = {}
    for name, info in model.model_fields.items():
        out[name] = name
        if isinstance(info.alias, str):
            out[info.alias] = name
    return out


def _hint(key: str, model: type[BaseModel], show: Any) -> str:
    """'did you mean X?' for the nearest valid key, else the valid keys; `show` spells a key."""
    names = list(model.model_fields)
    close = difflib.get_close_matches(key.lower(), names, n=1, cutoff=0.6)
    if close:
        return f"did you mean {show(close[0])}?"
    return "valid keys here: " + ", ".join(show(n) for n in names)


def _check_keys(
    model: type[BaseModel],
    data: Mapping[str, Any],
    path: tuple[str, ...],
    where: str,
    origins: dict[tuple[str, ...], str],
    origin: str,
) -> None:
    """Refuse a key the model does not have, at every level of `data` (a TOML file, a JSON value, flags)."""
    keys = _keys(model)
    for key, value in data.items():
        name = keys.get(key)
        if name is None:
            hint = _hint(key, model, lambda n: ".".join((*path, n)))
            raise ConfigError(f"unknown setting {'.'.join((*path, key))}{where}: {hint}")
        origins[(*path, name)] = origin
        section = _model_in(model.model_fields[name].annotation)
        if section is not None and isinstance(value, Mapping):
            _check_keys(section, value, (*path, name), where, origins, origin)


def _env_name(path: Sequence[str], prefix: str = ENV_PREFIX) -> str:
    return prefix + "__".join(p.upper() for p in path)


def _resolve_env(root: type[BaseModel], parts: list[str]) -> tuple[tuple[str, ...], type[BaseModel] | None] | str:
    """Follow ORDERSYNC__A__B's parts through the models: (field path, section model or None), or
    the text of the error when a part is not a key."""
    model = root
    path: tuple[str, ...] = ()
    for i, part in enumerate(parts):
        name = _keys(model).get(part)
        if name is None:
            joined = _keys(model).get("_".join(parts[i:]))  # `__` written where a key has `_`
            if joined is not None:
                return f"did you mean {_env_name((*path, joined))}?"
            return _hint(part, model, functools.partial(_suggest_env, root, path, parts[i + 1 :]))
        path = (*path, name)
        info = model.model_fields[name]
        section = _model_in(info.annotation)
        if i == len(parts) - 1:
            return path, section
        if section is None:
            if _takes_any_keys(info):
                return path, None
            return f"{'.'.join(path)} is a single value, not a section; did you mean {_env_name(path)}?"
        model = section
    return path, model


def _suggest_env(root: type[BaseModel], path: tuple[str, ...], rest: list[str], key: str) -> str:
    """The variable named with `key` in place of the wrong part, keeping the rest when it still resolves."""
    fixed = [*path, key, *rest]
    resolved = _resolve_env(root, fixed)
    # the rest is kept only where each of its parts is a key (not an entry of a free-form table)
    kept = isinstance(resolved, tuple) and len(resolved[0]) == len(fixed)
    return _env_name(fixed if kept else [*path, key])


def _check_env(root: type[BaseModel], environ: Mapping[str, str], origins: dict[tuple[str, ...], str]) -> None:
    for var, value in environ.items():
        upper = var.upper()
        if upper.startswith(ENV_PREFIX):
            resolved = _resolve_env(root, upper[len(ENV_PREFIX) :].lower().split("__"))
            if isinstance(resolved, str):
                raise ConfigError(f"unknown setting {var}: {resolved}")
            path, section = resolved
            origins[path] = var
            if path == ("warehouse", "url"):
                register_url_secrets(value)
            if section is not None:
                try:
                    data = json.loads(value)
                except ValueError:
                    continue  # pydantic-settings says why
                if isinstance(data, Mapping):
                    _register_raw_url({path[0]: data} if path == ("warehouse",) else {})
                    _check_keys(section, data, path, f" in {var}", origins, var)
        elif upper.startswith("ORDERSYNC_") and upper != ENV_SHORT_WAREHOUSE:
            # ORDERSYNC_SYNC__CONCURRENCY: one underscore short of a setting (other ORDERSYNC_*
            # variables, such as credentials, are not settings and are left alone)
            rest = upper[len("ORDERSYNC_") :].lower().split("__")
            if isinstance(_resolve_env(root, rest), tuple):
                raise ConfigError(f"unknown setting {var}: did you mean {_env_name(rest)}?")


def _origin(origins: Mapping[tuple[str, ...], str], loc: tuple[str, ...]) -> str | None:
    for n in range(len(loc), 0, -1):
        if loc[:n] in origins:
            return origins[loc[:n]]
    return None


def _describe(exc: ValidationError, origins: Mapping[tuple[str, ...], str]) -> str:
    """pydantic's errors as 'invalid setting KEY (where): problem', never with the value itself."""
    problems = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = tuple(str(p) for p in err["loc"])
        key = ".".join(loc)
        origin = _origin(origins, loc)
        if origin is None:
            where = ""
        elif origin.upper() == _env_name(loc) or origin == ENV_SHORT_WAREHOUSE:
            key, where = origin, ""
        elif origin == "flags":
            where = " (given as a flag)"
        else:
            where = f" (in {origin})"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown setting {key}{where}")
        else:
            problems.append(f"invalid setting {key}{where}: {err['msg']}")
    return "invalid configuration: " + "; ".join(problems)
