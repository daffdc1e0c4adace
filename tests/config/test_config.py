"""Configuration that says no: unknown keys at every level, typed errors, and secrets never shown."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ordersync.config import Settings, WarehouseSettings, load_settings
from ordersync.errors import ConfigError
from ordersync.secrets import known_secrets, mask_url, read_secret, scrub
from support.properties import examples


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No ORDERSYNC_* variable from outside, and a working directory without ordersync.toml."""
    for var in list(os.environ):
        if var.upper().startswith("ORDERSYNC"):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def sections(cls: type[BaseModel] = Settings) -> list[tuple[str, type[BaseModel]]]:
    """Every section of the settings, whoever added it: the fields whose type is a model."""
    out = []
    for name, info in cls.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            out.append((name, info.annotation))
    return out


def valid_paths() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for name in Settings.model_fields:
        section = dict(sections()).get(name)
        paths.extend([(name, key) for key in section.model_fields] if section else [(name,)])
    return paths


def env_name(path: tuple[str, ...]) -> str:
    return "ORDERSYNC__" + "__".join(p.upper() for p in path)


# --- unknown keys -----------------------------------------------------------------------------


def test_a_typo_in_a_nested_variable_is_an_error_naming_the_nearest_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERSYNC__SYNC__OVERLAP_MINUTE", "5")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        "unknown setting ORDERSYNC__SYNC__OVERLAP_MINUTE: did you mean ORDERSYNC__SYNC__OVERLAP_MINUTES?"
    )


@pytest.mark.parametrize(
    ("var", "expected"),
    [
        ("ORDERSYNC__SYNK__OVERLAP_MINUTES", "did you mean ORDERSYNC__SYNC__OVERLAP_MINUTES?"),
        ("ORDERSYNC__WAREHOUS__URL", "did you mean ORDERSYNC__WAREHOUSE__URL?"),
        ("ORDERSYNC__CLOK", "did you mean ORDERSYNC__CLOCK?"),
        ("ORDERSYNC__DBT__LOOKBACK", "did you mean ORDERSYNC__DBT__LOOKBACK_DAYS?"),
        ("ORDERSYNC__CLOCK__NOW", "clock is a single value, not a section; did you mean ORDERSYNC__CLOCK?"),
        ("ORDERSYNC_CLOCK", "did you mean ORDERSYNC__CLOCK?"),
        ("ORDERSYNC_SYNC__CONCURRENCY", "did you mean ORDERSYNC__SYNC__CONCURRENCY?"),
        ("ORDERSYNC__ZZZ", "valid keys here: ORDERSYNC__WAREHOUSE"),
    ],
)
def test_every_wrong_variable_is_refused(monkeypatch: pytest.MonkeyPatch, var: str, expected: str) -> None:
    monkeypatch.setenv(var, "1")
    with pytest.raises(ConfigError, match=f"^unknown setting {var}: ") as err:
        load_settings()
    assert expected in str(err.value)


def test_the_short_forms_and_other_ordersync_variables_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERSYNC_WAREHOUSE", "short.duckdb")
    monkeypatch.setenv("ORDERSYNC__CLOCK", "2025-06-02T15:00:00Z")
    monkeypatch.setenv("ordersync__sync__overlap_minutes", "7")  # names are not case-sensitive
    monkeypatch.setenv("ORDERSYNC_TEST_PG_URL", "postgresql://x@y/z")  # not a setting: left alone
    monkeypatch.setenv("ORDERSYNC_DEMO_APP_TOKEN", "t")
    s = load_settings()
    assert (s.warehouse.url, s.clock, s.sync.overlap_minutes) == ("short.duckdb", "2025-06-02T15:00:00Z", 7.0)


def test_every_key_of_every_section_is_accepted_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The valid keys come from the model classes, so a section added later is covered too."""
    defaults = Settings()
    for path in valid_paths():
        value: Any = defaults
        for part in path:
            value = getattr(value, part)
        if value is None:
            continue  # an optional setting left unset (no variable spells None)
        if isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, (list, dict)):
            text = json.dumps(value)  # a list or table setting is JSON in a variable
        else:
            text = str(value)
        monkeypatch.setenv(env_name(path), text)
    assert load_settings() == defaults


@pytest.mark.parametrize("section", [name for name, _ in sections()])
def test_an_unknown_key_in_any_section_is_refused(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path, section: str
) -> None:
    monkeypatch.setenv(f"ORDERSYNC__{section.upper()}__NO_SUCH_KEY", "1")
    with pytest.raises(ConfigError, match=f"unknown setting ORDERSYNC__{section.upper()}__NO_SUCH_KEY"):
        load_settings()
    monkeypatch.delenv(f"ORDERSYNC__{section.upper()}__NO_SUCH_KEY")
    (clean_env / "ordersync.toml").write_text(f"[{section}]\nno_such_key = 1\n")
    with pytest.raises(ConfigError, match=rf"unknown setting {section}\.no_such_key in ordersync\.toml"):
        load_settings()


def _typos(word: str) -> st.SearchStrategy[str]:
    i = st.integers(min_value=0, max_value=len(word) - 1)
    return st.one_of(
        i.map(lambda k: word[:k] + word[k + 1 :]),  # a letter dropped
        st.tuples(i, st.sampled_from("aeioux_")).map(lambda t: word[: t[0]] + t[1] + word[t[0] :]),  # one added
    )


@settings(max_examples=examples(60), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(valid_paths()).flatmap(lambda p: st.tuples(st.just(p), _typos(p[-1]))))
@example(case=(("revisions", "webhook_url_envs"), "webhook__url_envs"))  # `__` inside a key, by a table setting
def test_a_typo_of_any_key_is_refused_and_the_hint_is_a_real_key(
    monkeypatch: pytest.MonkeyPatch, case: tuple[tuple[str, ...], str]
) -> None:
    path, typo = case
    if not typo or typo.lower() in {p[-1] for p in valid_paths() if p[:-1] == path[:-1]}:
        return  # the typo spells a real key (or nothing)
    var = env_name((*path[:-1], typo))
    with monkeypatch.context() as m:
        m.setenv(var, "1")
        with pytest.raises(ConfigError) as err:
            load_settings()
    message = str(err.value)
    assert message.startswith(f"unknown setting {var}: ")
    if "did you mean " in message:
        hinted = message.rsplit("did you mean ", 1)[1].rstrip("?")
        assert hinted in {env_name(p) for p in valid_paths()}


def test_unknown_keys_in_the_file_name_the_file_and_the_nearest_key(clean_env: Path) -> None:
    config = clean_env / "conf" / "custom.toml"
    config.parent.mkdir()
    config.write_text("[sync]\noverlap_minute = 5\n")
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    assert str(err.value) == f"unknown setting sync.overlap_minute in {config}: did you mean sync.overlap_minutes?"
    config.write_text("[synk]\noverlap_minutes = 5\n")
    with pytest.raises(ConfigError, match=r"unknown setting synk in .*custom.toml: did you mean sync\?"):
        load_settings(config)
    config.write_text('clok = "system"\n')
    with pytest.raises(ConfigError, match=r"unknown setting clok .*did you mean clock\?"):
        load_settings(config)
    config.write_text("[sync\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(config)


def test_unknown_keys_inside_a_json_section_variable_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERSYNC__SYNC", '{"overlap_minute": 5}')
    with pytest.raises(ConfigError, match=r"unknown setting sync.overlap_minute in ORDERSYNC__SYNC: did you mean"):
        load_settings()
    monkeypatch.setenv("ORDERSYNC__SYNC", '{"overlap_minutes": 5}')
    assert load_settings().sync.overlap_minutes == 5.0


def test_unknown_keys_in_flags_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"unknown setting sync.lease_second given as a flag: did you mean"):
        load_settings(overrides={"sync": {"lease_second": 3}})


class _Limits(BaseModel):  # a plain model, as another part would add: no extra="forbid" of its own
    max_body_bytes: int = 1_000_000


class _Web(BaseModel):
    port: int = 8000
    limits: _Limits = _Limits()


class _WithWeb(Settings):
    web: _Web = _Web()


def test_sections_added_later_are_checked_at_every_level(monkeypatch: pytest.MonkeyPatch, clean_env: Path) -> None:
    monkeypatch.setenv("ORDERSYNC__WEB__PROT", "1")
    with pytest.raises(ConfigError, match="did you mean ORDERSYNC__WEB__PORT"):
        load_settings(settings_cls=_WithWeb)
    monkeypatch.delenv("ORDERSYNC__WEB__PROT")
    monkeypatch.setenv("ORDERSYNC__WEB__LIMITS__MAX_BODY", "1")
    with pytest.raises(ConfigError, match="did you mean ORDERSYNC__WEB__LIMITS__MAX_BODY_BYTES"):
        load_settings(settings_cls=_WithWeb)
    monkeypatch.setenv("ORDERSYNC__WEB__LIMITS__MAX_BODY_BYTES", "10")
    monkeypatch.delenv("ORDERSYNC__WEB__LIMITS__MAX_BODY")
    (clean_env / "ordersync.toml").write_text("[web.limits]\nmax_bdoy_bytes = 3\n")
    with pytest.raises(ConfigError, match=r"web.limits.max_bdoy_bytes in ordersync.toml: did you mean"):
        load_settings(settings_cls=_WithWeb)
    (clean_env / "ordersync.toml").write_text("[web]\nport = 9000\n")
    s = load_settings(settings_cls=_WithWeb)
    assert (s.web.port, s.web.limits.max_body_bytes) == (9000, 10)


# --- layering and wrong types -----------------------------------------------------------------


def test_layers_flags_over_variables_over_the_file(monkeypatch: pytest.MonkeyPatch, clean_env: Path) -> None:
    (clean_env / "ordersync.toml").write_text("[sync]\noverlap_minutes = 1\ntrailing_days = 9\n")
    assert (load_settings().sync.overlap_minutes, load_settings().sync.trailing_days) == (1.0, 9.0)
    monkeypatch.setenv("ORDERSYNC__SYNC__OVERLAP_MINUTES", "2")
    s = load_settings()
    assert (s.sync.overlap_minutes, s.sync.trailing_days) == (2.0, 9.0)  # one key of the section each
    s = load_settings(overrides={"sync": {"overlap_minutes": 3, "lease_seconds": None}})
    assert (s.sync.overlap_minutes, s.sync.trailing_days, s.sync.lease_seconds) == (3.0, 9.0, 60.0)


def test_a_missing_config_file_is_named() -> None:
    with pytest.raises(ConfigError, match=r"config file nowhere\.toml does not exist"):
        load_settings(Path("nowhere.toml"))


def test_a_wrong_type_names_the_key_and_where_without_the_value(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    monkeypatch.setenv("ORDERSYNC__SYNC__CONCURRENCY", "hunter2-value")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "invalid setting ORDERSYNC__SYNC__CONCURRENCY: Input should be a valid integer" in str(err.value)
    assert "hunter2" not in str(err.value)
    monkeypatch.delenv("ORDERSYNC__SYNC__CONCURRENCY")
    (clean_env / "ordersync.toml").write_text('[sync]\nconcurrency = 0\nhistorical_direction = "sideways-value"\n')
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert "invalid setting sync.concurrency (in ordersync.toml): Input should be greater than or equal to 1" in message
    assert "invalid setting sync.historical_direction (in ordersync.toml)" in message
    assert "sideways" not in message


# --- secrets ----------------------------------------------------------------------------------

PASSWORDS = ["s3cr3t-Pw", "p@ss:w/rd%", "with space", "quote'and\"dq", "ünï-cødé"]


@pytest.mark.parametrize("password", PASSWORDS)
def test_repr_and_str_of_the_settings_mask_the_password(password: str) -> None:
    url = f"postgresql://cdp:{quote(password, safe='')}@db.example:5432/cdp?sslmode=require"
    s = load_settings(overrides={"warehouse": {"url": url}})
    assert s.warehouse.url == url  # callers still get the real URL
    for text in (repr(s), str(s), repr(s.warehouse), str(s.warehouse), f"{s!r}"):
        assert password not in text and quote(password, safe="") not in text
        assert "postgresql://cdp:***@db.example:5432/cdp?sslmode=require" in text


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u@h/db?sslmode=disable&password=zz", "postgresql://u@h/db?sslmode=disable&password=***"),
        ("host=h password='a b' dbname=x", "password=*** dbname=x host=h"),
        ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("warehouse.duckdb", "warehouse.duckdb"),
    ],
)
def test_mask_url_forms(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert (
        repr(WarehouseSettings(url=url))
        == f"WarehouseSettings(url={masked!r}, duckdb_memory_limit='48MB', duckdb_threads=None)"
    )


@pytest.mark.parametrize("url", ["postgresql://u:zx@qv-9k@h/db", "postgresql://u:zx/qv-9k@h/db"])
def test_a_raw_separator_in_a_url_password_is_masked_whole_and_refused(url: str) -> None:
    assert mask_url(url) == "postgresql://u:***@h/db"
    with pytest.raises(ConfigError) as err:
        load_settings(overrides={"warehouse": {"url": url}})
    message = str(err.value)
    assert message.startswith("invalid configuration: invalid setting warehouse.url (given as a flag): ")
    assert "percent-encode it ('@' as %40, '/' as %2F, '#' as %23)" in message
    assert "zx" not in message and "qv-9k" not in message


def test_scrub_removes_every_known_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    WarehouseSettings(url="postgresql://u:wh-pass%2Fword@h/db")
    monkeypatch.setenv("STORE_TOKEN_VAR", "tenant-token-123")
    read_secret("STORE_TOKEN_VAR", "tenant app token")
    monkeypatch.setenv("ORDERSYNC_API_TOKEN", "env-token-456")
    monkeypatch.setenv("ORDERSYNC_ADMIN_PASSWORD", "env-pass-789")
    monkeypatch.setenv("ORDERSYNC_OTHER_URL", "postgresql://u:url-pass-000@h/db")
    text = (
        'wh-pass/word wh-pass%2Fword tenant-token-123 env-token-456 env-pass-789 url-pass-000 {"t": "tenant-token-123"}'
    )
    assert scrub(text) == '*** *** *** *** *** *** {"t": "***"}'
    assert "***" not in known_secrets()
