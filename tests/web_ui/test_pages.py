"""The pages in a real headless Chromium: logging in, languages, escaping, users, API docs.

Every test keeps a screenshot of the page it ends on in var/screenshots/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.web_ui.conftest import WAIT_S, Account, LiveServer, browser_login, wait_for
from web_ui.users.service import Role

Shot = Callable[[str], Path]


def submit_and_wait(driver: webdriver.Chrome, button: WebElement, css: str) -> None:
    """Click a form's button and wait for `css` on the *next* page: the page being left may
    hold the same element (a second "done" message), which would be found stale."""
    old_page = driver.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(driver, WAIT_S).until(lambda _: is_gone(old_page))
    wait_for(driver, css)


def is_gone(element: WebElement) -> bool:
    """Whether `element`'s page has been replaced. Chromium reports a node of a page being
    replaced either as stale or, mid-navigation, as "does not belong to the document"."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


def text_of(driver: webdriver.Chrome, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def nav_labels(driver: webdriver.Chrome) -> list[str]:
    return [str(link.text) for link in driver.find_elements(By.CSS_SELECTOR, "header nav a")]


def assert_no_alert(driver: webdriver.Chrome) -> None:
    try:
        alert = driver.switch_to.alert
    except NoAlertPresentException:
        return
    raise AssertionError(f"a script ran: alert {alert.text!r}")


def test_login_works_and_a_wrong_password_shows_an_error(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    screenshot: Shot,
) -> None:
    user = make_user(Role.SUPERVISOR, display_name="Dewi Lestari")
    browser.get(server.url + "/")
    assert browser.current_url.startswith(server.url + "/login")
    browser.find_element(By.ID, "username").send_keys(user.username)
    browser.find_element(By.ID, "password").send_keys("bukan-kata-sandinya")
    browser.find_element(By.ID, "login-submit").click()
    wait_for(browser, "#error")
    assert text_of(browser, "#error") == "Nama pengguna atau kata sandi salah."
    screenshot("wrong-password")
    browser_login(browser, server, user)
    assert text_of(browser, "#welcome") == "Selamat datang, Dewi Lestari."
    assert nav_labels(browser) == [
        "Dasbor",
        "Konsol",
        "Log panggilan",
        "Laporan",
        "Aturan",
        "Pengaturan penyaringan",
        "Pengguna",  # the locked accounts, to unlock them
        "Log audit",
        "Profil",
    ]
    assert "WIB" in text_of(browser, "#now")
    screenshot("home")
    browser.find_element(By.ID, "logout").click()
    wait_for(browser, "#info")
    assert text_of(browser, "#info") == "Anda telah keluar."
    browser.get(server.url + "/profile")
    assert browser.current_url.startswith(server.url + "/login")


def test_the_language_switch_changes_the_page_text(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    screenshot: Shot,
) -> None:
    user = make_user(Role.TECHNICIAN, display_name="Agus")
    browser_login(browser, server, user)
    browser.get(server.url + "/users")
    assert text_of(browser, "h1") == "Pengguna"
    assert "Tambah pengguna" in browser.page_source
    browser.find_element(By.ID, "switch-language").click()
    wait_for(browser, "html[lang=en]")
    assert browser.current_url == server.url + "/users"
    assert text_of(browser, "h1") == "Users"
    assert nav_labels(browser) == [
        "Dashboard",
        "Console",
        "Call log",
        "Reports",
        "Rules",
        "Screening settings",
        "Lines",
        "Users",
        "Audit log",
        "System",
        "Profile",
        "API",
    ]
    assert "Add a user" in browser.page_source
    screenshot("english")
    browser.get(server.url + "/profile")
    Select(browser.find_element(By.ID, "language")).select_by_value("id")
    submit_and_wait(browser, browser.find_element(By.ID, "language-submit"), "#done")
    assert text_of(browser, "#done") == "Bahasa diganti."
    assert text_of(browser, "h1") == "Profil"


def test_the_login_page_speaks_english_on_request(
    browser: webdriver.Chrome, server: LiveServer, screenshot: Shot
) -> None:
    browser.get(server.url + "/login")
    assert text_of(browser, "h1") == "Masuk"
    browser.find_element(By.ID, "lang-en").click()
    wait_for(browser, "html[lang=en]")
    assert text_of(browser, "h1") == "Log in"
    screenshot("login-english")
    browser.get(server.url + "/login")  # the choice sticks (cookie) until login
    assert text_of(browser, "h1") == "Log in"


def test_markup_in_a_display_name_is_shown_as_text_and_never_runs(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    screenshot: Shot,
) -> None:
    markup = "<script>alert('xss')</script><b>tebal</b>"
    evil = make_user(Role.SUPERVISOR, display_name=markup)
    browser_login(browser, server, evil)
    for path in ("/", "/audit", "/profile"):
        browser.get(server.url + path)
        assert_no_alert(browser)
        assert markup in text_of(browser, "#whoami"), path
        assert not browser.find_elements(By.CSS_SELECTOR, "header b, main b")
    assert text_of(browser, "#profile-display-name") == "<script>alert('xss')</script><b>tebal</b>"
    screenshot("profile")
    browser.find_element(By.ID, "logout").click()
    wait_for(browser, "#info")
    technician = make_user(Role.TECHNICIAN)
    browser_login(browser, server, technician)
    browser.get(server.url + "/users")
    assert_no_alert(browser)
    row = browser.find_element(By.ID, f"user-{evil.id}")
    assert row.find_element(By.CSS_SELECTOR, ".display-name").text == markup
    screenshot("users")


def test_a_technician_adds_a_user_and_resets_a_password(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    screenshot: Shot,
) -> None:
    technician = make_user(Role.TECHNICIAN, language="en")
    browser_login(browser, server, technician)
    browser.get(server.url + "/users")
    browser.find_element(By.ID, "new-username").send_keys("rina.op")
    browser.find_element(By.ID, "new-display-name").send_keys("Rina Operator")
    Select(browser.find_element(By.ID, "new-role")).select_by_value("operator")
    browser.find_element(By.ID, "new-password").send_keys("password-untuk-rina")
    submit_and_wait(browser, browser.find_element(By.ID, "add-user-submit"), "#done")
    assert text_of(browser, "#done") == "User added."
    assert "Rina Operator" in text_of(browser, "#users")
    screenshot("added")
    row = next(
        row
        for row in browser.find_elements(By.CSS_SELECTOR, "#users tbody tr")
        if "rina.op" in row.text
    )
    row.find_element(By.NAME, "new_password").send_keys("new-password-for-rina")
    reset = row.find_element(By.XPATH, ".//button[text()='Reset password']")
    submit_and_wait(browser, reset, "#done")
    assert text_of(browser, "#done") == "Password reset; that user's sessions were ended."


def test_an_operator_sees_only_their_pages(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    screenshot: Shot,
) -> None:
    operator = make_user(Role.OPERATOR)
    browser_login(browser, server, operator)
    assert browser.current_url == server.url + "/console"  # an operator's home page
    assert nav_labels(browser) == ["Konsol", "Profil"]
    browser.get(server.url + "/users")
    assert text_of(browser, "#error-message") == (
        "Anda tidak memiliki akses ke halaman atau tindakan ini."
    )
    screenshot("forbidden")


def test_the_api_docs_render_from_local_assets_only(
    browser: webdriver.Chrome,
    server: LiveServer,
    make_user: Callable[..., Account],
    screenshot: Shot,
) -> None:
    technician = make_user(Role.TECHNICIAN)
    browser_login(browser, server, technician)
    browser.get(server.url + "/docs")
    wait_for(browser, ".swagger-ui .info .title")
    wait_for(browser, ".opblock")
    assert "Siaga" in text_of(browser, ".swagger-ui .info .title")
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(entry => entry.name)"
    )
    assert loaded, "no resources loaded"
    assert all(str(url).startswith(server.url) for url in loaded), loaded
    screenshot("swagger")
