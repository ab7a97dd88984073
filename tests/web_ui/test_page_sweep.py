"""Every page in a real browser, in both languages, on a laptop and on a phone.

A technician (who sees every page) visits each page of the web UI on a database seeded
like a busy centre's (`tests.web_ui.sweep_seed`), in Bahasa Indonesia and in English, at
1366x768 and at 390x844, and each page is checked for what an operator at 3 a.m. or a
supervisor reading a report must never meet:

- the document wider than the screen (a wide table may scroll inside its own box);
- raw JSON, Python exception names or `None`/`True`/`False` as values;
- English words in the Indonesian pages (`ENGLISH_WORDS`), and Indonesian words in the
  English pages (`INDONESIAN_WORDS`), outside what is marked as not to be translated
  (`code`, `kbd`, `[translate=no]`: numbers, file and table names) and what people typed;
- a catalogue's marks shown as typed (a backtick, `[[`), a stored key as a label
  (`origin`), a percentage written apart (`90 %`, where the pages write `90%`), on a
  chart's axis too;
- what reads badly however it is worded (`LAYOUT_JS`): a word or a number broken across
  two lines, a table cell that is no longer a cell (its row lines no longer line up),
  cards touching or overlapping, a caller's number cell left empty, a chart's text drawn
  too small to read (under `MIN_TEXT_PX`), on a laptop a report table cut at its box's
  edge, and on a phone a column hidden past a box's right edge or a stacked row's label
  with no value under it.

Every page's whole length is saved as var/screenshots/<test>[<language>-<width>]-<page>.png
for a person to look at. One browser, one login per language and width; the problems of
every page are collected and reported together.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.web_ui.conftest import LiveServer, browser_login, serve, wait_for
from tests.web_ui.line_service import service_beating
from tests.web_ui.sweep_seed import LONG_REASON, TYPED_IN_INDONESIAN, Centre, seed_centre
from tests.web_ui.test_pages import submit_and_wait

pytestmark = pytest.mark.slow

Shot = Callable[..., Path]
SIZES = {1366: 768, 390: 844}


@dataclass(frozen=True)
class Page:
    """A page to visit: its name in the screenshots, its path, what shows it is ready."""

    name: str
    path: str
    ready: tuple[str, ...] = ("main h1",)


PAGES = (
    Page("dashboard", "/", ("#alarms",)),
    Page("console", "/console", ("#live[data-state='live']", ".line-card .number", "tr.callback")),
    Page("calls", "/calls"),
    Page("calls-of-a-number", "/calls?number=081234500001"),
    Page("callbacks", "/callbacks"),
    Page("reports", "/reports"),
    Page("reports-print", "/reports?print=1", ("main",)),
    Page("rules", "/rules"),
    Page("settings", "/settings"),
    Page("lines", "/lines"),
    Page("line-add", "/lines/add"),
    Page("line-edit", "/lines/gsm5/edit"),
    Page("users", "/users"),
    Page("audit", "/audit"),
    Page("system", "/system"),
    Page("profile", "/profile"),
    Page("not-found", "/tidak-ada", ("#error-message",)),
)

# Words that give away an English (or internal) term on an Indonesian page: the findings
# of the first sweep (recovery steps, rule actions, event details, flood reasons, line
# errors) and the plain English words such texts are made of.
ENGLISH_WORDS = (
    "reinitialise", "power_cycle", "usb_reset", "reconnecting", "recovered", "exhausted",
    "skipped", "failed", "steps?", "allow", "block", "reject", "challenge", "announce",
    "pass", "ghost", "silent", "exact", "prefix", "match", "kind", "action", "reason",
    "caller", "line", "flood", "restart", "timeout", "unknown", "default", "error",
    "expected", "found", "released", "state", "round", "the", "and", "of", "with", "from",
    "within", "seconds?", "calls?", "numbers?", "result", "health", "poll", "no", "not",
    "only", "free", "unsure", "untrusted", "synchroni[sz]ed", "active", "anonymous",
    "origin",
)  # fmt: skip
ENGLISH = re.compile(r"\b(" + "|".join(ENGLISH_WORDS) + r")\b", re.IGNORECASE)
# And the other way round: the words the Indonesian pages are made of, and the months
# as Indonesian abbreviates them.
INDONESIAN_WORDS = (
    "dan", "yang", "dari", "untuk", "tidak", "dengan", "belum", "sudah", "dalam", "atau",
    "ini", "itu", "oleh", "saat", "tanpa", "sejak", "sampai", "saluran", "panggilan",
    "nomor", "penelepon", "berkas", "pengguna", "aturan", "jam", "hari", "menit", "detik",
    "iseng", "hantu", "lolos", "tolak", "tantangan", "awalan", "persis", "terbuka",
    "Des", "Agu", "Okt", "Mei",
)  # fmt: skip
INDONESIAN = re.compile(r"\b(" + "|".join(INDONESIAN_WORDS) + r")\b")
TYPED = re.compile("|".join(re.escape(text) for text in sorted(TYPED_IN_INDONESIAN, key=len)[::-1]))
# A catalogue's marks for code (`siaga run`, [[lines]]) shown as typed, not as code.
MARKS = re.compile(r"`|\[\[")
PERCENT_APART = re.compile(r"\d %")
RAW_JSON = re.compile(r"\{\"|\['|\[\"|\": ")
PYTHON_ERROR = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b|Traceback")
PYTHON_VALUE = {"id": re.compile(r"\b(None|True|False)\b"), "en": re.compile(r"\b(True|False)\b")}

# The visible text of the page (a chart's too), and that text less what is marked as not
# to be translated (hidden for a moment: `innerText` leaves out what is not displayed).
VISIBLE_TEXT_JS = """
const texts = [document.body.innerText];
const nodes = [...document.querySelectorAll('code, kbd, [translate="no"]')];
const hidden = nodes.map(node => [node, node.style.display]);
nodes.forEach(node => { node.style.display = 'none'; });
texts.push(document.body.innerText);
hidden.forEach(([node, display]) => { node.style.display = display; });
return texts;
"""
# A value quoted as typed (“prefix”, “7d”): what a user writes in a CSV cell, not prose.
QUOTED = re.compile("\u201c[^\u201d]*\u201d")
# The document's width, and what sticks out past the screen's width outside a box that
# scrolls on its own. (A phone zooms out to show a page wider than itself: then
# `window.innerWidth` grows with the page, so the screen's width is the test's own.)
OVERFLOW_JS = """
const width = arguments[0];
const out = [...document.querySelectorAll('main *')].filter(node =>
  node.getBoundingClientRect().right > width + 1 && !node.closest('.scroll, .fit'));
const named = node => node.tagName + (node.id ? '#' + node.id : '') + '.' + node.className;
return [document.documentElement.scrollWidth, out.slice(0, 5).map(named)];
"""
MIN_TEXT_PX = 10  # the smallest text a chart may draw, on screen
# What reads badly at any wording, on a screen `arguments[0]` wide (a phone: under 500),
# with text no smaller than `arguments[1]` px.
LAYOUT_JS = """
const width = arguments[0], phone = width < 500;
const main = document.querySelector('main');
const shown = node => node.getClientRects().length > 0;
const named = node => node.tagName.toLowerCase() + (node.id ? '#' + node.id : '')
  + (node.classList.length ? '.' + [...node.classList].join('.') : '');
const words = text => text.trim().replace(/\\s+/g, ' ').slice(0, 40);
const found = [];
// A word alone in its element, or a number, a date or a time anywhere, laid out on two
// lines (no space in it to wrap at: broken inside, or at a date's hyphen).
const lines = range => new Set([...range.getClientRects()].filter(box => box.width > 1)
  .map(box => Math.round(box.top))).size;
const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode, text = node.textContent, word = text.trim();
  const range = document.createRange();
  range.selectNodeContents(node);
  if (/^\\+?[\\p{L}\\p{N}]{3,16}$/u.test(word) && lines(range) > 1) {
    found.push('a word broken across lines: ' + word + ' in ' + named(node.parentElement));
  }
  for (const match of text.matchAll(/\\+?\\d[\\d.:\u2011-]{4,}\\d/g)) {
    range.setStart(node, match.index);
    range.setEnd(node, match.index + match[0].length);
    if (lines(range) > 1) {
      found.push('a number broken across lines: ' + match[0] + ' in ' + named(node.parentElement));
    }
  }
}
// A cell of a table laid out as a table that is not a cell: its row lines break.
for (const cell of main.querySelectorAll('td, th')) {
  const table = cell.closest('table');
  if (shown(cell) && getComputedStyle(table).display === 'table'
      && getComputedStyle(cell).display !== 'table-cell') {
    found.push('not a table cell: ' + named(cell) + ' in ' + named(table));
  }
}
// Cards touching or overlapping one another (one above the other, or side by side).
const cards = [...main.querySelectorAll('.card')].filter(shown);
cards.forEach((a, i) => cards.slice(i + 1).forEach(b => {
  if (a.contains(b) || b.contains(a)) return;
  const p = a.getBoundingClientRect(), q = b.getBoundingClientRect();
  const across = Math.min(p.right, q.right) - Math.max(p.left, q.left);
  const down = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
  if (across > -4 && down > -4) found.push('cards touch: ' + named(a) + ' and ' + named(b));
}));
// A caller's number cell with nothing in it.
for (const cell of main.querySelectorAll('td.number')) {
  if (shown(cell) && !cell.innerText.trim()) {
    found.push('an empty number in ' + named(cell.closest('table')));
  }
}
if (phone) {
  // A column past a box's right edge (a report's `.fit` table may scroll on a phone).
  for (const box of main.querySelectorAll('.scroll')) {
    if (shown(box) && box.scrollWidth > box.clientWidth + 1) {
      found.push('a box hides columns: ' + named(box.querySelector('table') || box)
        + ' (' + box.scrollWidth + ' > ' + box.clientWidth + ' px)');
    }
  }
  // A stacked row's label with no value under it.
  for (const cell of main.querySelectorAll('table.stack td[data-label]')) {
    if (shown(cell) && !cell.innerText.trim() && !cell.querySelector('input, select, button')) {
      found.push('a label with no value: ' + cell.dataset.label + ' in ' + named(cell.parentNode));
    }
  }
} else {
  // On a laptop every column of a report shows without scrolling (as on paper).
  for (const box of main.querySelectorAll('.fit')) {
    if (shown(box) && box.scrollWidth > box.clientWidth + 1) {
      found.push('a report table cut at its box: ' + named(box.querySelector('table') || box)
        + ' (' + box.scrollWidth + ' > ' + box.clientWidth + ' px)');
    }
  }
}
// A chart's text drawn smaller than a screen shows legibly (a drawing scales its text with
// it: a wide chart on a phone's narrow screen).
for (const text of main.querySelectorAll('svg text')) {
  const size = parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a;
  if (shown(text) && size < arguments[1]) {
    found.push('chart text too small: ' + words(text.textContent) + ' at '
      + size.toFixed(1) + ' px in ' + named(text.closest('figure') || text));
  }
}
// A stored key shown as a label.
for (const label of main.querySelectorAll('dt, th[scope="col"]')) {
  if (shown(label) && /^[a-z]+(_[a-z]+)*$/.test(label.innerText.trim())) {
    found.push('a stored key as a label: ' + words(label.innerText));
  }
}
return [...new Set(found)];
"""


@pytest.fixture(scope="module")
def centre_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A web UI on a database of its own, seeded like a busy centre's, its line service
    beating (so the console shows the lines as reported)."""
    with serve(tmp_path_factory.mktemp("sweep") / "siaga.db") as live:
        yield live


@pytest.fixture(scope="module")
def centre(centre_server: LiveServer) -> Iterator[Centre]:
    """The seeded database, with the line service's heartbeat kept fresh."""
    seeded = seed_centre(centre_server)
    with service_beating(centre_server):
        yield seeded


@pytest.fixture
def sized(browser: webdriver.Chrome, request: pytest.FixtureRequest) -> Iterator[int]:
    """The browser's viewport at the test's width (a phone's is a mobile viewport)."""
    width = int(request.param)
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": SIZES[width], "deviceScaleFactor": 1, "mobile": width < 500},
    )
    yield width
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def problems_of(driver: webdriver.Chrome, language: str, width: int) -> list[str]:
    """What is wrong with the page shown on a screen `width` wide, in words (empty: none)."""
    found: list[str] = []
    scroll_width, sticking_out = driver.execute_script(OVERFLOW_JS, width)
    if scroll_width > width + 1:
        found.append(f"wider than the screen: {scroll_width} > {width} ({sticking_out})")
    text, translatable = driver.execute_script(VISIBLE_TEXT_JS)
    for label, pattern, where in (
        ("raw JSON", RAW_JSON, text),
        ("Python exception", PYTHON_ERROR, text),
        ("Python value", PYTHON_VALUE[language], text),
        ("marks shown as typed", MARKS, translatable),
        ("a percentage written apart", PERCENT_APART, translatable),
    ):
        found += [f"{label}: {snippet}" for snippet in snippets(pattern, where)]
    prose = QUOTED.sub(" ", TYPED.sub(" ", translatable))
    foreign = ("English", ENGLISH) if language == "id" else ("Indonesian", INDONESIAN)
    found += [f"{foreign[0]}: {snippet}" for snippet in snippets(foreign[1], prose)]
    found += driver.execute_script(LAYOUT_JS, width, MIN_TEXT_PX)
    return found


def snippets(pattern: re.Pattern[str], text: str, limit: int = 6) -> list[str]:
    """Each match of `pattern` in `text` with a little of the text around it."""
    shown = []
    for match in list(pattern.finditer(text))[:limit]:
        start, end = max(0, match.start() - 30), min(len(text), match.end() + 30)
        shown.append(repr(text[start:end]))
    return shown


def visit(driver: webdriver.Chrome, url: str, *ready: str) -> None:
    """Open `url` and wait for each of `ready` on it."""
    driver.get(url)
    for css in ready:
        wait_for(driver, css)


def login_page(driver: webdriver.Chrome, server: LiveServer, language: str) -> None:
    """The login page in `language` (its links set the language before anyone logs in)."""
    visit(driver, f"{server.url}/login?lang={language}", f"html[lang={language}] #username")


def refused_rule(driver: webdriver.Chrome, server: LiveServer) -> list[str]:
    """The rules page after a refused rule: a partial number with a 200-character reason.
    The form must come back with what was typed, and the error name the form's fields."""
    visit(driver, server.url + "/rules", "#add-rule")
    driver.find_element(By.ID, "rule-number").send_keys("0812")
    driver.find_element(By.ID, "rule-reason").send_keys(LONG_REASON)
    driver.find_element(By.ID, "rule-expires").send_keys("7d")
    submit_and_wait(driver, driver.find_element(By.ID, "add-rule-submit"), "#error")
    kept = driver.find_element(By.ID, "rule-reason").get_attribute("value")
    return [] if kept == LONG_REASON else [f"the form lost the reason: {kept!r}"]


def import_preview(driver: webdriver.Chrome, server: LiveServer, tmp_path: Path) -> list[str]:
    """The import's preview of a file with good and bad rows."""
    upload = tmp_path / "aturan.csv"
    upload.write_text(
        "Jenis;Nomor;Cocok;Tindakan;Alasan;Kedaluwarsa\n"
        "blokir;0812;persis;;;\n"
        "block;081234500011;exact;reject;iseng berulang;7d\n"
        "block;0812;exact;;iseng berulang;\n"
        "block;081234500012;exact;lolos;;kemarin\n"
        "allow;+62 21 555;prefix;;Polres;\n",
        encoding="utf-8",
    )
    visit(driver, server.url + "/rules", "#import-file")
    driver.find_element(By.ID, "import-file").send_keys(str(upload))
    submit_and_wait(driver, driver.find_element(By.ID, "import-preview"), "main h1")
    bad_rows = driver.find_elements(By.CSS_SELECTOR, "#preview-error-rows tr[data-row]")
    return [] if len(bad_rows) == 3 else [f"the preview shows {len(bad_rows)} bad rows, not 3"]


@pytest.mark.parametrize("sized", [1366, 390], indirect=True, ids=["1366", "390"])
@pytest.mark.parametrize("language", ["id", "en"])
def test_every_page_reads_well_in_both_languages_and_widths(
    browser: webdriver.Chrome,
    centre_server: LiveServer,
    centre: Centre,
    sized: int,
    language: str,
    screenshot: Shot,
    tmp_path: Path,
) -> None:
    report: dict[str, list[str]] = {}

    def check(name: str, extra: list[str] | None = None) -> None:
        screenshot(name, full_page=True)
        found = (extra or []) + problems_of(browser, language, sized)
        if found:
            report[name] = found

    login_page(browser, centre_server, language)
    check("login")
    browser_login(browser, centre_server, centre.technicians[language])
    for page in PAGES:
        visit(browser, centre_server.url + page.path, *page.ready)
        check(page.name)
    check("rules-refused", refused_rule(browser, centre_server))
    check("rules-import", import_preview(browser, centre_server, tmp_path))
    assert not report, "\n".join(
        f"{name}:\n  " + "\n  ".join(found) for name, found in report.items()
    )
