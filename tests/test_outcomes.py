"""The outcome vocabularies keep the strings the tables, the JSON output and the logs hold."""

from __future__ import annotations

import json

import orjson

from ordersync.outcomes import BuildStatus, CheckStatus, DeliveryState, RoundStatus, RunStatus


def test_values_are_the_stored_strings() -> None:
    assert [s.value for s in RunStatus] == ["running", "succeeded", "failed", "abandoned", "skipped", "busy"]
    assert [s.value for s in BuildStatus] == ["running", "succeeded", "failed", "abandoned"]
    assert [s.value for s in RoundStatus] == ["polled", "partial", "busy", "backing-off", "throttled", "failed"]
    assert [s.value for s in CheckStatus] == ["pass", "warn", "fail", "error", "skip"]
    assert [s.value for s in DeliveryState] == ["waiting", "retrying", "delivered", "given up"]


def test_members_equal_and_serialize_as_their_strings() -> None:
    # rows read back hold plain strings; JSON and f-strings show the value, never the member name
    assert RunStatus.SUCCEEDED == "succeeded" and RunStatus("failed") is RunStatus.FAILED
    assert f"{RoundStatus.BACKING_OFF}" == "backing-off"
    assert json.dumps({"s": DeliveryState.GIVEN_UP}) == '{"s": "given up"}'
    assert orjson.dumps({"s": BuildStatus.ABANDONED}) == b'{"s":"abandoned"}'


def test_ok_and_failed() -> None:
    assert {s for s in RunStatus if s.ok} == {RunStatus.SUCCEEDED, RunStatus.SKIPPED}
    assert {s for s in RoundStatus if not s.ok} == {RoundStatus.FAILED, RoundStatus.PARTIAL}
    assert {s for s in CheckStatus if s.failed} == {CheckStatus.FAIL, CheckStatus.ERROR}
