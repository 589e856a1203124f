"""The dashboard in a real headless Chromium: log in, every page, search and filters, charts.

One server and one browser for the module; each test gets a fresh context (no cookies). The
``page`` fixture fails a test whose page requested anything but the dashboard on 127.0.0.1
or logged a console error (a Content-Security-Policy violation shows as one). Screenshots go
to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Dialog, Page, expect
from sqlalchemy import Engine, func, select

from odbridge.store.schema import patients
from tests.browser.conftest import Traffic, shot
from tests.browser.seed import ADMIN, ADMIN_PASSWORD, EVIL_NAME, VIEWER, VIEWER_PASSWORD

pytestmark = pytest.mark.browser

CHARTS = (
    "status",
    "new_patients",
    "age_gender",
    "completeness",
    "contact",
    "providers",
    "clinics",
    "cities",
    "zips",
)


def log_in(page: Page, username: str, password: str) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form[action='/login'] button[type=submit]")


def test_login_then_overview_draws_every_chart_on_laptop_and_tablet(
    page: Page, traffic: Traffic
) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    shot(page, "01-login")
    log_in(page, ADMIN, "not the password")
    expect(page.locator(".error")).to_contain_text("Wrong user name or password")
    log_in(page, ADMIN, ADMIN_PASSWORD)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("h1")).to_contain_text("All practices")
    for name in CHARTS:
        chart = page.locator(f".chart[data-chart='{name}']")
        expect(chart).to_have_attribute("data-drawn", "true", timeout=30_000)
        expect(chart.locator(".main-svg").first).to_be_visible()
        # a drawn bar trace has at least one bar path
        assert chart.locator(".trace.bars .point path").count() > 0, name
    assert page.locator(".main-svg").count() >= len(CHARTS)
    # every figure has its definition one click away
    definitions = page.locator("details.definition")
    assert definitions.count() >= len(CHARTS) + 5
    first = page.locator(".card:has(h2:text('Balances')) details.definition")
    first.locator("summary").click()
    expect(first).to_contain_text("not aged")
    expect(page.locator("#birthdays")).to_be_visible()
    expect(page.locator("text=The eConnector of the practice is not running")).to_be_visible()
    page.wait_for_timeout(300)  # let plotly finish its transitions before the picture
    shot(page, "02-overview-all-practices")

    page.select_option("#practice", "main")  # submits by itself (static/dashboard.js)
    expect(page).to_have_url(re.compile(r"/\?practice=main$"))
    expect(page.locator("h1")).to_contain_text("main")
    expect(page.locator(".chart[data-chart='status']")).to_have_attribute("data-drawn", "true")
    page.set_viewport_size({"width": 768, "height": 1024})
    page.reload()
    expect(page.locator(".chart[data-chart='zips']")).to_have_attribute("data-drawn", "true")
    page.wait_for_timeout(300)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 768, "the overview scrolls sideways on a tablet"
    shot(page, "03-overview-tablet")
    assert any(url.endswith("/static/vendor/plotly.min.js?v=0.1.0") for url in traffic.requests)


def test_patients_search_filters_sort_pages_and_detail(page: Page, dashboard_store: Engine) -> None:
    with dashboard_store.connect() as connection:
        lname, count = connection.execute(
            select(patients.c.lname, func.count())
            .where(patients.c.practice == "main", patients.c.missing_since.is_(None))
            .group_by(patients.c.lname)
            .order_by(func.count().desc(), patients.c.lname)
            .limit(1)
        ).one()
    page.goto("/patients?practice=main")
    log_in(page, VIEWER, VIEWER_PASSWORD)
    expect(page).to_have_url(re.compile(r"/patients\?practice=main$"))
    expect(page.locator("#result-count")).to_contain_text("3,002 patients")
    shot(page, "04-patients")

    page.fill("#q", lname.lower()[:-1])
    page.click("form[role=search] button[type=submit]")
    expect(page.locator("#patients-table tbody tr").first).to_contain_text(lname)
    found = int(page.locator("#result-count strong").inner_text().replace(",", ""))
    assert found >= count

    page.fill("#q", lname)
    page.select_option("#status", "Patient")
    page.click("form[role=search] button[type=submit]")
    expect(page).to_have_url(re.compile(r"status=Patient"))
    rows = page.locator("#patients-table tbody tr")
    assert rows.count() >= 1
    for i in range(rows.count()):
        expect(rows.nth(i).locator("td").nth(3)).to_have_text("Patient")

    page.goto("/patients?practice=main")
    page.click("#patients-table thead >> text=Balance")
    page.click("#patients-table thead >> text=Balance")  # again: descending
    expect(page).to_have_url(re.compile(r"sort=balance&dir=desc"))
    balances = page.locator("#patients-table tbody tr td:nth-child(11)").all_inner_texts()
    amounts = [float(b.replace("$", "").replace(",", "")) for b in balances]
    assert amounts == sorted(amounts, reverse=True)
    assert amounts[0] > 0
    page.click("a[rel=next]")
    expect(page.locator(".pager")).to_contain_text("Page 2 of")
    shot(page, "05-patients-sorted-page-2")

    page.goto("/patients?practice=main&q=7")  # digits: PatNum 7 (or phones with them)
    page.locator("#patients-table a", has_text=",").first.click()
    expect(page.locator("h1")).to_contain_text("PatNum")
    expect(page.locator("#patient-fields")).to_contain_text("Billing type")
    expect(page.locator("#family, .card:has(h2:text('Family')) p").first).to_be_visible()
    shot(page, "06-patient")


def test_injection_in_search_is_inert_and_escaped(page: Page, dashboard_store: Engine) -> None:
    page.goto("/login")
    log_in(page, VIEWER, VIEWER_PASSWORD)
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    for text in ("'; DROP TABLE patients; --", "<script>alert('x')</script>", "%", "_"):
        page.goto("/patients?practice=main")
        page.fill("#q", text)
        page.click("form[role=search] button[type=submit]")
        expect(page.locator("#q")).to_have_value(text)
    page.goto("/patients?practice=main&q=%3Cscript")
    expect(page.locator("#patients-table")).to_contain_text(EVIL_NAME)
    shot(page, "07-patients-escaped")
    assert dialogs == []
    with dashboard_store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(patients)).scalar_one() > 3000


def test_quality_audit_roles_and_logout(page: Page) -> None:
    page.goto("/quality")
    log_in(page, VIEWER, VIEWER_PASSWORD)
    expect(page.locator("nav.nav")).not_to_contain_text("Audit log")
    page.goto("/audit")
    expect(page.locator("h1")).to_have_text("403")
    page.goto("/quality?practice=main&check=duplicates")
    expect(page.locator("#quality-table tbody tr")).to_have_count(2)
    for check in ("phones", "no_phone", "emails"):
        page.click(f"nav.tabs a[href*='check={check}']")
        expect(page.locator("#quality-table tbody tr").first).to_be_visible()
    shot(page, "08-quality")
    page.click("form.logout button")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/quality")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fquality$"))

    log_in(page, ADMIN, ADMIN_PASSWORD)
    expect(page).to_have_url(re.compile(r"/quality$"))
    page.click("nav.nav >> text=Audit log")
    table = page.locator("#audit-table")
    expect(table).to_contain_text("login_failed")
    expect(table).to_contain_text(VIEWER)
    expect(table.locator("tr.action-view").first).to_be_visible()
    assert "DROP TABLE" not in table.inner_text()
    shot(page, "09-audit")
