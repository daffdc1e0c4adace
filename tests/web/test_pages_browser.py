"""The dashboard's pages in a real browser: Debian's Chromium driven by Playwright, one browser and
one served warehouse per module and backend (tests/web/pagesserve.py prepares its data)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from typer.testing import CliRunner

from ordersync.cli.main import app as cli
from ordersync.revisions.plans import DRAFTED
from web.apiserve import ApiServed, module_served
from web.pagesserve import FORGED_PLAN_ID, HOSTILE, HOSTILE_ERROR, MOVES, PLAN_ID, REVISED_ORDER, prepare

playwright = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium", allow_module_level=True)

PAGES = ("/", "/tenants/app", "/finance", "/plans", f"/plans/{PLAN_ID}", "/customers")
#: each page's charts, drawn when a canvas is inside each
CHARTS = {"/": ("#fleet-chart",), "/tenants/app": ("#lateness-chart", "#source-chart")}


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServed]:
    with module_served(request, tmp_path_factory, "pages", prepare) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def login(browser: Any, served: ApiServed, kind: str) -> Any:
    """A browser context holding the session of `kind`'s token, logged in through the login page."""
    context = browser.new_context(base_url=served.url)
    page = context.new_page()
    page.goto("/login?next=/")
    page.fill("input[name=token]", served.tokens[kind])
    page.click("button[type=submit]")
    page.wait_for_url(f"{served.url}/")
    page.close()
    return context


class Tab:
    """A tab of a logged-in context that records console errors (CSP violations among them) and dialogs."""

    def __init__(self, context: Any, served: ApiServed) -> None:
        self.served = served
        self.page = context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def open(self, path: str) -> Any:
        return self.page.goto(path)


@pytest.fixture(scope="module")
def admin_session(browser: Any, served: ApiServed) -> Iterator[Any]:
    context = login(browser, served, "admin")
    yield context
    context.close()


@pytest.fixture
def admin(admin_session: Any, served: ApiServed) -> Iterator[Tab]:
    tab = Tab(admin_session, served)
    yield tab
    tab.page.close()


def test_every_page_loads_with_its_charts_and_no_console_error_or_csp_violation(admin: Tab) -> None:
    for path in PAGES:
        answer = admin.open(path)
        assert answer.status == 200, path
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        for figure in CHARTS.get(path, ()):
            admin.page.wait_for_selector(f"{figure} canvas", state="attached", timeout=30_000)
        if path == "/":  # the counts say up to when they count what landed
            assert "Landed versions counted up to" in admin.page.locator("p.note").first.inner_text()
    assert admin.errors == [] and admin.dialogs == []
    assert admin.page.locator("#top tbody tr").count() >= 1  # the customers page: the top by CLV


def test_not_logged_in_a_page_goes_to_the_login_and_back(browser: Any, served: ApiServed) -> None:
    context = browser.new_context(base_url=served.url)
    page = context.new_page()
    try:
        page.goto("/finance?tenant=app")
        assert page.url.startswith(f"{served.url}/login?next=")
        page.fill("input[name=token]", served.tokens["read"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{served.url}/finance?tenant=app")
        assert page.locator("#revenue tbody tr").count() >= 1
    finally:
        context.close()


def test_the_as_of_picker_shows_what_the_api_answers_for_that_moment(admin: Tab) -> None:
    moment = datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S")
    admin.open("/finance")
    admin.page.fill("input[name=as_of]", moment)
    admin.page.click("#as-of-picker button")
    admin.page.wait_for_url("**/finance?*as_of=*")
    rows = admin.page.locator("#revenue tbody tr").all()
    shown = [tuple(r.locator("td").all_inner_texts()[i] for i in (0, 1, 2, 5)) for r in rows]
    api = admin.served.get("/v1/revenue", as_of=f"{moment}Z", limit=1000).json()
    assert shown == [(d["tenant"], d["date"], d["currency"], d["revenue"]) for d in api["data"]]
    assert len(shown) >= 3
    assert api["as_of"] is not None and api["as_of"][:19].replace("T", " ") in admin.page.inner_text("#as-of")


def test_a_plan_approved_by_its_button_is_recorded_with_the_tokens_label(admin: Tab) -> None:
    admin.open(f"/plans/{PLAN_ID}")
    admin.page.click("button.approve")
    admin.page.wait_for_url(f"**/plans/{PLAN_ID}")
    assert admin.page.inner_text("#plan-status") == "approved"
    with admin.served.app() as app:
        plan = app.get_plan(PLAN_ID)
    assert (plan.status, plan.reviewed_by) == ("approved", "reviewer")


def test_a_quarantined_record_is_retried_by_its_button(admin: Tab) -> None:
    with admin.served.app() as app:
        [held] = app.quarantine_list("app")
    admin.open("/tenants/app")
    admin.page.click("#quarantine button")
    admin.page.wait_for_url("**/tenants/app")
    with admin.served.app() as app:
        [after] = app.quarantine_list("app", include_resolved=True)
    assert after["quarantine_id"] == held["quarantine_id"]
    assert after["retries"] == (held["retries"] or 0) + 1  # parsed again (and refused again: it is broken)
    assert admin.errors == []


def test_a_forged_or_missing_csrf_token_is_refused(admin: Tab) -> None:
    admin.open(f"/plans/{FORGED_PLAN_ID}")
    for forge in ("el.value = 'forged'", "el.remove()"):
        admin.page.eval_on_selector("form.action:has(button.approve) input[name=csrf]", f"el => {forge}")
        with admin.page.expect_response(f"**/v1/plans/{FORGED_PLAN_ID}/approve") as answered:
            admin.page.click("button.approve")
        assert answered.value.status == 403
        admin.open(f"/plans/{FORGED_PLAN_ID}")
    with admin.served.app() as app:
        assert app.get_plan(FORGED_PLAN_ID).status == DRAFTED


def test_a_read_tokens_session_sees_its_one_tenant(browser: Any, served: ApiServed) -> None:
    context = login(browser, served, "read")
    tab = Tab(context, served)
    try:
        tab.open("/")
        names = tab.page.locator("#tenants tbody td:first-child").all_inner_texts()
        assert names == ["app"]
        assert tab.page.locator("#fleet-chart").count() == 0  # the fleet's chart is the admin's
        other, unknown = tab.open("/tenants/other"), tab.open("/tenants/no-such-tenant")
        assert other.status == unknown.status == 404
        tab.open(f"/plans/{PLAN_ID}")
        assert tab.page.locator("button.approve").count() == 0  # actions are the admin's
        tab.open("/finance")
        assert set(tab.page.locator("#revenue tbody td:first-child").all_inner_texts()) == {"app"}
        download = tab.page.request.get(tab.page.get_attribute("#csv", "href"))
        assert {line.split(",")[0] for line in download.text().splitlines()[1:]} == {"app"}
    finally:
        context.close()


def test_a_hostile_tenant_name_renders_as_text(admin: Tab) -> None:
    admin.open("/")
    link = admin.page.get_by_role("link", name=HOSTILE)
    assert link.count() == 1  # the name as text, its markup never parsed
    assert admin.page.locator("#tenants img, #tenants b").count() == 0
    # a push-only store is never pulled: no next sync is due, rather than one long past
    (row,) = [r for r in _rows(admin, "#tenants") if r[0] == HOSTILE]
    assert row[3] == "\u2014"
    link.click()
    admin.page.wait_for_selector("h1")
    assert admin.page.inner_text("h1") == HOSTILE
    assert admin.dialogs == [] and admin.errors == []


def _rows(tab: Tab, selector: str) -> list[list[str]]:
    return [r.locator("td").all_inner_texts() for r in tab.page.locator(f"{selector} tbody tr").all()]


def test_the_tenant_page_sets_each_day_beside_the_source_with_its_gaps_marked(admin: Tab) -> None:
    admin.open("/tenants/app")
    days = admin.served.get("/v1/tenants/app/source-days").json()["data"]
    shown = _rows(admin, "#source-days")
    assert [r[:3] for r in shown] == [[d["date"], str(d["built_orders"]), d["built_revenue"]] for d in days]
    gaps = admin.page.locator("#source-days tr.gap td:first-child").all_inner_texts()
    assert gaps == [d["date"] for d in days if d["gap"]] and len(gaps) == 1
    [fixed] = [r for r in shown if r[6].startswith("fixed")]
    assert fixed[3] == str(next(d["source_orders"] for d in days if d["fixed_at"]))


def test_the_csv_link_gives_exactly_what_revenue_csv_prints(admin: Tab) -> None:
    moment = datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S")
    admin.open(f"/finance?as_of={moment}")
    href = admin.page.get_attribute("#csv", "href")
    assert href is not None and href.startswith("/v1/revenue.csv?")
    download = admin.page.request.get(href)  # the session's cookie, as a click sends it
    assert download.status == 200 and download.headers["content-type"].startswith("text/csv")
    printed = CliRunner().invoke(cli, ["revenue", "--as-of", f"{moment}Z", "--csv", "-w", admin.served.settings_url])
    assert printed.exit_code == 0, printed.output
    assert download.body() == printed.stdout_bytes  # byte for byte (Result.stdout turns CRLF into LF)
    assert HOSTILE in download.text() and len(download.text().splitlines()) >= 4


def test_days_revised_since_a_moment_are_listed_highlighted_and_noticed(admin: Tab) -> None:
    built = admin.served.get("/v1/revenue", tenant="app").json()["as_of"]  # the revision came after the build
    admin.open("/finance?" + urlencode({"tenant": "app", "since": built}))
    [day] = admin.served.get("/v1/revenue/diff", since=built, tenant="app").json()["data"]
    [row] = _rows(admin, "#diff")
    assert row[:6] == [
        "app",
        day["date"],
        day["currency"],
        day["before"]["revenue"],
        day["after"]["revenue"],
        day["delta"],
    ]
    assert REVISED_ORDER in (admin.page.text_content("#diff details") or "")  # folded: in the DOM, not shown
    assert admin.page.locator("#revenue tr.revised td:nth-child(2)").all_inner_texts() == [day["date"]]
    delivery = admin.page.locator("#notices .delivery.given-up")
    assert delivery.inner_text() == "FINANCE_HOOK: given up"
    assert delivery.get_attribute("title") == f"5 attempts: {HOSTILE_ERROR}"  # the error as text
    assert admin.dialogs == [] and admin.errors == []


def test_the_customers_page_counts_the_moves_since_a_day(admin: Tab) -> None:
    since = datetime.now(UTC).date().isoformat()
    admin.open(f"/customers?tenant=app&since={since}")
    api = admin.served.get("/v1/tenants/app/customer-moves", since=since).json()
    segment = sorted((f, t, str(MOVES.count((f, t)))) for f, t in set(MOVES))
    assert sorted(tuple(r) for r in _rows(admin, "#segment-moves")) == segment  # the initial one left out
    assert _rows(admin, "#stage-moves") == [["first purchase", "repeat", "1"]]
    assert [(m["kind"], m["from"], m["to"], m["moves"]) for m in api["data"]] == sorted(
        [("segment", f, t, int(n)) for f, t, n in segment] + [("stage", "first purchase", "repeat", 1)]
    )
    assert admin.page.locator("#segment-moves b").count() == 0 and admin.dialogs == []
