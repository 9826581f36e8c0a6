"""/console/analytics over real HTTP (the gateway on loopback via serve_in_thread) against the seeded database,
on SQLite and PostgreSQL: supervisors only, every figure on the page, a CSV per figure identical to the
figure's rows, no personal number anywhere; and the page in chromium, drawn, saved as docs/screenshots/analytics.png."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.analytics import FIGURES, Analytics, Period, to_csv
from bot.auth import Role
from tests.analytics.seed import PERIOD, PERSONAL_NUMBERS, Seeded, seed
from tests.console.conftest import PASSWORD, Gateway, start_gateway

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "screenshots" / "analytics.png"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PERIOD_QUERY = {"since": PERIOD.since.isoformat(), "until": PERIOD.until.isoformat()}


gateway_on = contextmanager(start_gateway)


@pytest.fixture
def console(seeded: Seeded) -> Iterator[Gateway]:
    with gateway_on(seeded.database_url) as gateway:
        gateway.add_user("zhang", Role.SUPERVISOR)
        gateway.add_user("li", Role.OPERATOR)
        yield gateway


def test_only_a_logged_in_supervisor_sees_the_figures(console: Gateway) -> None:
    with console.client() as anonymous:
        for path in ("/console/analytics", "/console/analytics/handoff_rate.csv"):
            response = anonymous.get(path)
            assert response.status_code == 303 and "/console/login" in response.headers["location"]
    with console.logged_in("li") as operator:
        assert operator.get("/console/analytics").status_code == 403
        assert operator.get("/console/analytics/handoff_rate.csv", params=PERIOD_QUERY).status_code == 403

    with console.logged_in("zhang") as supervisor:
        page = supervisor.get("/console/analytics", params=PERIOD_QUERY)
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        html = page.text
        for figure in FIGURES:
            assert f'id="figure-{figure.name}"' in html and figure.title in html
            assert f'href="/console/analytics/{figure.name}.csv?since=2026-11-23&amp;until=2026-12-21"' in html
        assert '<a href="/console/conversations/c2">' in html  # a knowledge gap links to its transcript
        assert "诊所挂号费多收了二十块，还不给发票，电话[电话]" in html
        for number in PERSONAL_NUMBERS:
            assert number not in html

        default = supervisor.get("/console/analytics")  # no period: the last 30 days
        assert default.status_code == 200 and 'name="since"' in default.text


def test_each_csv_is_the_figures_rows_with_a_bom(console: Gateway, seeded: Seeded, embedder) -> None:
    analytics = Analytics(seeded.engine, embedder)
    as_of_today = Period.of(PERIOD.since, PERIOD.until)  # the page counts what is overdue as of today
    with console.logged_in("zhang") as supervisor:
        for figure in FIGURES:
            response = supervisor.get(f"/console/analytics/{figure.name}.csv", params=PERIOD_QUERY)
            assert response.status_code == 200, (figure.name, response.text)
            assert response.headers["content-type"] == "text/csv; charset=utf-8"
            assert f'filename="{figure.name}_20261123-20261220.csv"' in response.headers["content-disposition"]
            assert response.content.startswith(b"\xef\xbb\xbf")
            assert response.content.decode("utf-8") == to_csv(figure, analytics.rows(figure, as_of_today))
            for number in PERSONAL_NUMBERS:
                assert number not in response.text


def test_bad_periods_and_names_get_a_chinese_answer_not_a_500(console: Gateway) -> None:
    with console.logged_in("zhang") as supervisor:
        page = supervisor.get("/console/analytics", params={"since": "2026-13-01"})
        assert page.status_code == 400 and "不是日期" in page.text and 'role="alert"' in page.text
        backwards = supervisor.get("/console/analytics", params={"since": "2026-12-01", "until": "2026-11-01"})
        assert backwards.status_code == 400 and "必须晚于" in backwards.text
        csv = supervisor.get("/console/analytics/deadlines.csv", params={"since": "2020-01-01", "until": "2026-01-01"})
        assert csv.status_code == 400 and "最长" in csv.text
        unknown = supervisor.get("/console/analytics/nothing.csv", params=PERIOD_QUERY)
        assert unknown.status_code == 404 and "没有这项统计" in unknown.text


@pytest.fixture
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def test_the_page_draws_every_chart_and_is_saved_as_a_screenshot(browser, tmp_path: Path) -> None:
    # The browser sees the storage only through the page: SQLite is enough here (the tests above run both).
    seeded = seed(f"sqlite:///{tmp_path / 'hotline.db'}")
    with gateway_on(seeded.database_url) as console, _page(browser) as page:
        console.add_user("zhang", Role.SUPERVISOR)
        page.goto(f"{console.url}/console/analytics?since=2026-11-23&until=2026-12-21")
        page.get_by_label("登录名").fill("zhang")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(f"{console.url}/console/analytics?since=2026-11-23&until=2026-12-21")
        assert page.locator("nav a.active").inner_text() == "统计"
        charts = page.locator("[data-chart]")
        assert charts.count() == len(FIGURES) - 1  # knowledge gaps are a table
        page.locator("[data-chart][data-rendered=true]").nth(charts.count() - 1).wait_for()
        assert page.locator("[data-chart][data-rendered=true] svg").count() == charts.count()
        gaps = page.locator("#figure-knowledge_gaps table.gaps tbody tr")
        assert gaps.first.locator("td").first.inner_text() == "出生医学证明丢了怎么补办"
        assert page.locator("#figure-knowledge_gaps a[href='/console/conversations/c2']").count() == 2

        page.get_by_label("开始日期").fill("2026-11-30")
        page.get_by_role("button", name="查看").click()
        page.wait_for_url("**/console/analytics?since=2026-11-30&until=2026-12-21")
        assert page.locator("#figure-knowledge_gaps .empty").inner_text() == "本期无数据。"
        page.goto(f"{console.url}/console/analytics?since=2026-11-23&until=2026-12-21")
        page.locator("[data-chart][data-rendered=true]").nth(charts.count() - 1).wait_for()
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    seeded.service.close()


@contextmanager
def _page(browser) -> Iterator:  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()
