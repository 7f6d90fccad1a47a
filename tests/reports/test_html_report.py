"""The HTML report: hostile input stays text, the page is self-contained, and in a real
browser it renders, runs none of the data, and its filters hide what they should."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import report_payout

from mentorrules import Engine
from mentorrules.model import Decision, Finding, Report, Severity, Source, Status
from mentorrules.reports import html

SCRIPT_TAG = "<script>window.pwned=1;document.title='pwned'</script>"
IMG_TAG = "\"><img src=x onerror=\"window.pwned=1;document.title='pwned'\">"
CLOSE_SCRIPT = "</script><script>window.pwned=1</script>"
QUOTES = "O'Brien & \"Sons\" `tick` <b>bold</b>"
HUGE = "A" * 50_000 + " " + "B" * 50_000  # a 100 KB cell with one place to wrap

SCREENSHOT = Path("/tmp/mentorrules-report.png")


# -- pages --------------------------------------------------------------------------------------
def hostile_report() -> tuple[Report, dict[str, list[dict[str, Any]]]]:
    """A report built by hand, so that even rule ids, sources and URLs are hostile."""
    source = Source(SCRIPT_TAG, IMG_TAG, "javascript:window.pwned=1", CLOSE_SCRIPT)
    good = Source("2 CFR 200.430", "(a)", "https://www.ecfr.gov/current/title-2/section-200.430?a=1&b=2")
    decisions = (
        Decision("payouts", 1, IMG_TAG, Status.FAIL, (
            Finding("STIPEND-001", Severity.ERROR, SCRIPT_TAG, source, (CLOSE_SCRIPT,), (QUOTES,)),
            Finding(SCRIPT_TAG, Severity.WARNING, HUGE, good),
        )),
        Decision("payouts", 2, "P-2", Status.PASS, ()),
        Decision("payouts", 3, CLOSE_SCRIPT, Status.ERROR, (Finding("MR310", Severity.ERROR, QUOTES),)),
    )
    report = Report("0.1.0", (("core", "0.1.0"), (SCRIPT_TAG, IMG_TAG)), "sha256:" + "0" * 64, decisions,
                    {"payouts": CLOSE_SCRIPT})
    rows = {"payouts": [{"district": SCRIPT_TAG, "program": IMG_TAG},
                        {"district": QUOTES, "program": "NM_PILOT"},
                        {"district": HUGE, "program": CLOSE_SCRIPT}]}
    return report, rows




def engine_page(engine: Engine) -> tuple[str, Report]:
    """A real run over payouts whose ids, payees and districts carry script payloads."""
    payouts = [
        report_payout("P-1", role="coach", district="Albuquerque"),
        report_payout("P-2", amount="-5.00"),
        report_payout(IMG_TAG, payee_id=SCRIPT_TAG, district=CLOSE_SCRIPT),
        report_payout("P-4", program=QUOTES, district="Las Cruces", role="coach"),
        report_payout("P-5", district=HUGE),
        report_payout("P-6", pay_date="not a date"),
    ]
    tables: dict[str, list[dict[str, Any]]] = {"payouts": payouts,
                                               "people": [{"person_id": "T-1", "career_year": 1}]}
    report = engine.validate(tables, as_of=dt.date(2025, 9, 1))
    stream = io.StringIO()
    html.write(report, stream, {rule.id: rule.title for rule in engine.rules}, tables)
    return stream.getvalue(), report


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of each script element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    tags.close()
    return tags


def sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


# -- static checks ------------------------------------------------------------------------------
def test_hostile_values_never_become_markup() -> None:
    report, rows = hostile_report()
    page = html.render(report, {SCRIPT_TAG: IMG_TAG}, rows)
    tags = parse(page)
    assert [tag for tag, _ in tags.tags if tag in {"script", "img", "iframe", "object"}] == ["script", "script"]
    assert not [(tag, name) for tag, attrs in tags.tags for name in attrs if name.startswith("on")]
    for payload in (SCRIPT_TAG, IMG_TAG, CLOSE_SCRIPT, "<b>bold</b>"):
        assert payload not in page
    assert escape(QUOTES, quote=True) in page


def test_a_100_kb_cell_is_shown_whole() -> None:
    report, rows = hostile_report()
    page = html.render(report, None, rows)
    assert HUGE in page
    assert page.count('class="clip message"') == 3


def test_only_web_urls_become_links() -> None:
    report, rows = hostile_report()
    hrefs = [attrs["href"] for tag, attrs in parse(html.render(report, None, rows)).tags if "href" in attrs]
    assert hrefs == ["https://www.ecfr.gov/current/title-2/section-200.430?a=1&b=2"]


def test_script_data_is_json_that_cannot_close_its_element() -> None:
    report, rows = hostile_report()
    page = html.render(report, None, rows)
    block = re.search(r'<script type="application/json" id="mr-data">(.*?)</script>', page, re.S)
    assert block is not None
    assert not set("<>&") & set(block.group(1))
    data = json.loads(block.group(1))
    assert data["districts"] == sorted([SCRIPT_TAG, HUGE])
    assert data["rules"] == sorted(["MR310", "STIPEND-001", SCRIPT_TAG])
    assert len(data["rows"]) == 2  # the passing row is counted, not listed


def test_the_page_loads_nothing_and_runs_only_its_own_code() -> None:
    report, rows = hostile_report()
    page = html.render(report, None, rows)
    tags = parse(page)
    policy = next(attrs["content"] for tag, attrs in tags.tags
                  if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy")
    assert policy is not None
    assert "default-src 'none'" in policy
    code = [text for (tag, attrs), text in zip([t for t in tags.tags if t[0] == "script"], tags.scripts, strict=True)
            if attrs.get("type") != "application/json"]
    assert len(code) == 1
    assert f"script-src '{sha256(code[0])}'" in policy
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert style is not None
    assert f"style-src '{sha256(style.group(1))}'" in policy
    assert not [attrs for _, attrs in tags.tags if "src" in attrs or "style" in attrs]


def test_summary_counts_findings_by_rule_district_and_program(engine: Engine) -> None:
    page, report = engine_page(engine)
    assert f"mentorrules {report.version}" in page
    assert report.digest in page
    for name, version in report.packs:
        assert f"{name} {version}" in page
    by_district = re.search(r'<section id="by-district">(.*?)</section>', page, re.S)
    by_program = re.search(r'<section id="by-program">(.*?)</section>', page, re.S)
    assert by_district is not None
    assert by_program is not None
    for district in ("Albuquerque", "Gallup", "Las Cruces", escape(CLOSE_SCRIPT)):
        assert district in by_district.group(1)
    assert escape(QUOTES) in by_program.group(1)
    rules = {finding.rule for decision in report.records for finding in decision.findings}
    by_rule = re.search(r'<section id="by-rule">(.*?)</section>', page, re.S)
    assert by_rule is not None
    assert {"STIPEND-001", "STIPEND-002", "STIPEND-003", "MR310"} <= rules
    for rule in rules:
        assert f">{rule}<" in by_rule.group(1)


def test_without_input_rows_district_and_program_are_not_given() -> None:
    report, _ = hostile_report()
    page = html.render(report)
    assert page.count(html.NOT_GIVEN) >= 4


# -- in a real browser --------------------------------------------------------------------------
CHROMIUM = next((path for name in ("chromium", "chromium-browser", "google-chrome")
                 if (path := shutil.which(name))), None)
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("chromium or chromedriver is not installed")
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory() as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     "--window-size=1400,1000", f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture(scope="module")
def opened(browser: Any, engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Any:
    page, _ = engine_page(engine)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(page, encoding="utf-8")
    browser.get(path.as_uri())
    return browser


def visible_rows(driver: Any) -> list[Any]:
    return [row for row in driver.find_elements("css selector", "#rows tr.decision") if row.is_displayed()]


def test_browser_renders_the_summary_and_runs_no_data(opened: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    assert opened.find_element("id", "summary").is_displayed()
    assert opened.find_element("tag name", "body").get_attribute("data-ready") == "1"
    assert opened.execute_script("return window.pwned") is None
    assert opened.title == "mentorrules report"
    assert opened.find_elements("tag name", "img") == []
    with pytest.raises(NoAlertPresentException):
        _ = opened.switch_to.alert.text
    # A CSP violation would mean something tried to run or load; our own code must not.
    assert [entry for entry in opened.get_log("browser") if entry["level"] == "SEVERE"] == []
    height = opened.execute_script("return document.documentElement.scrollHeight")
    opened.set_window_size(1400, min(height + 40, 6000))
    assert opened.save_screenshot(str(SCREENSHOT))
    opened.set_window_size(1400, 1000)


def test_browser_filter_by_rule_shows_only_matching_rows(opened: Any) -> None:
    from selenium.webdriver.support.ui import Select

    everything = visible_rows(opened)
    rule = Select(opened.find_element("id", "filter-rule"))
    rule.select_by_visible_text(next(option.text for option in rule.options if option.text.startswith("STIPEND-001")))
    shown = visible_rows(opened)
    assert 0 < len(shown) < len(everything)
    for row in shown:
        findings = [item for item in row.find_elements("css selector", "li.finding") if item.is_displayed()]
        assert findings
        assert all("STIPEND-001" in item.text for item in findings)
    assert "P-1" in shown[0].text

    Select(opened.find_element("id", "filter-district")).select_by_visible_text("Gallup")
    assert visible_rows(opened) == []
    assert "showing 0 of" in opened.find_element("id", "shown").text

    opened.find_element("id", "filter-reset").click()
    assert len(visible_rows(opened)) == len(everything)
    Select(opened.find_element("id", "filter-severity")).select_by_visible_text("warning")
    assert visible_rows(opened) == []
    opened.find_element("id", "filter-reset").click()


def test_browser_filter_by_program_shows_only_that_programs_rows(opened: Any) -> None:
    from selenium.webdriver.support.ui import Select

    def programs() -> list[str]:
        return [row.find_elements("css selector", "td")[5].text for row in visible_rows(opened)]

    everything = programs()
    assert "NM_PILOT" in everything and QUOTES in everything  # rows of both programs have findings
    program = Select(opened.find_element("id", "filter-program"))
    program.select_by_visible_text(QUOTES)
    assert programs() == [QUOTES]
    assert opened.execute_script("return window.pwned") is None
    program.select_by_visible_text("NM_PILOT")
    assert programs() and set(programs()) == {"NM_PILOT"}
    assert len(programs()) == everything.count("NM_PILOT")
    opened.find_element("id", "filter-reset").click()
    assert programs() == everything


def test_browser_search_by_payout_or_payee_id_and_the_active_filters_show(opened: Any) -> None:
    everything = visible_rows(opened)
    search = opened.find_element("id", "filter-search")
    search.send_keys("p-4")
    shown = visible_rows(opened)
    assert len(shown) == 1 and "P-4" in shown[0].text
    active = opened.find_element("id", "active")
    assert active.is_displayed()
    assert "payout or payee id contains \u201cp-4\u201d" in active.text
    assert f"showing 1 of {len(everything)}" in active.text
    # The filters print with the page: the line is outside the filter box, which print hides.
    assert opened.execute_script("return document.getElementById('active').closest('.filters') === null")
    search.clear()
    search.send_keys("<script>")  # a payee id holding markup is searched as text
    assert len(visible_rows(opened)) == 1
    opened.find_element("id", "filter-reset").click()
    assert len(visible_rows(opened)) == len(everything) and not opened.find_element("id", "active").is_displayed()


def test_browser_columns_sort_and_rows_keep_their_findings(opened: Any) -> None:
    def keys() -> list[str]:
        return [row.find_elements("css selector", "td")[3].text for row in visible_rows(opened)]

    before = keys()
    headings = opened.find_elements("css selector", "#rows th.sortable")
    heading = next(th for th in headings if th.text.startswith("amount"))
    heading.click()
    amounts = [row.find_elements("css selector", "td")[6].text for row in visible_rows(opened)]
    numbers = [float(text) for text in amounts if text]
    assert numbers == sorted(numbers)
    heading.click()
    numbers = [float(row.find_elements("css selector", "td")[6].text) for row in visible_rows(opened)
               if row.find_elements("css selector", "td")[6].text]
    assert numbers == sorted(numbers, reverse=True)
    # Filtering after sorting still pairs each row with its own findings.
    from selenium.webdriver.support.ui import Select

    rule = Select(opened.find_element("id", "filter-rule"))
    rule.select_by_visible_text(next(option.text for option in rule.options if option.text.startswith("STIPEND-001")))
    assert all("STIPEND-001" in row.text for row in visible_rows(opened))
    opened.find_element("id", "filter-reset").click()
    row_heading = next(th for th in headings if th.text.startswith("row"))
    row_heading.click()
    assert keys() == before
