"""The connection form, driven as a user would: Airflow's api-server, and headless Chromium.

Chromium is Debian's (``apt-get install chromium``; ``.ci/run`` installs it), driven through
Playwright's Python package pointed at that executable: Playwright's own browser download is not
reachable here. The browser gets a fresh profile and no network but loopback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from airflow_provider_spark_logs.protocol.connection import parse_connection
from airflow_provider_spark_logs.testing import SparkEmulator
from tests.helpers import AirflowCli, free_port, server_process, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
WRONG_KEY = "wrong-key-4f1c9e7d"
INTERNAL = ("00000000-0000", "connection-test")  # the connection test's made-up job, folder and service
SCREENSHOT = os.environ.get("SPARK_LOGS_FORM_SCREENSHOT")  # where to keep a picture of the form, if set


@pytest.fixture(scope="module")
def emulator_for_ui() -> Iterator[SparkEmulator]:
    with SparkEmulator() as emu:
        yield emu


@pytest.fixture
def api_server(tmp_path: Path, migrated_db: Path) -> Iterator[tuple[str, AirflowCli]]:
    """Airflow's api-server on loopback, every user an admin, the connection test enabled."""
    home = tmp_path / "airflow"
    home.mkdir()
    shutil.copyfile(migrated_db, home / "airflow.db")
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
    }
    airflow = AirflowCli(home, env)
    command = [airflow.executable, "api-server", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with server_process(command, port, "airflow api-server", env=env):
        _wait_for_health(url)
        yield url, airflow


def _wait_for_health(url: str) -> None:
    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as answer:  # noqa: S310
                return answer.status == 200
        except OSError:
            return False

    wait_until(healthy, timeout=120, interval=0.5)


@pytest.fixture
def page() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test: install Debian's chromium (.ci/run does).")
        pytest.skip("The browser test needs Debian's chromium: apt-get install chromium.")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1000, "height": 1250},
        )
        context.set_default_timeout(30_000)
        try:
            yield context.new_page()
        finally:
            context.close()


def stored(airflow: AirflowCli, conn_id: str) -> dict:
    """The connection as Airflow stored it, secrets included (read back through the CLI)."""
    out = airflow.run("connections", "get", conn_id, "-o", "json").stdout
    (conn,) = json.loads(out[out.index("[") :])
    return conn


def toast_after(page, click: Callable[[], None], text: str) -> str:
    """The whole text of the notification, holding ``text``, that a click brings up."""
    click()
    toast = page.locator("[data-scope=toast][data-part=root]").filter(has_text=text).last
    toast.wait_for()
    return toast.inner_text()


def with_port_left_out(route) -> None:
    """What apache/airflow#73298 changes: the UI no longer sends port 0 for a connection without one."""
    body = json.loads(route.request.post_data)
    body["port"] = None
    route.continue_(post_data=json.dumps(body))


def test_the_form_adds_tests_and_edits_a_connection(api_server, page, emulator_for_ui, tmp_path):
    url, airflow = api_server
    emu = emulator_for_ui
    page.goto(f"{url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    form = page.get_by_role("dialog")
    form.locator("input[name=connection_id]").fill("spark_ui")
    form.get_by_label("Connection Type").focus()
    page.keyboard.type("Coherent Spark")
    page.keyboard.press("Enter")

    # Fields and labels as declared; schema and port hidden.
    for label in ("Spark base URL", "OAuth2 client id", "API key, bearer token or client secret"):
        assert form.get_by_text(label, exact=True).is_visible()
    assert form.locator("input[name=schema], input[name=port]").count() == 0
    form.locator("input[name=host]").fill(f"{emu.base_url}/{emu.tenant}")
    form.locator("input[name=password]").fill(emu.api_key)
    form.get_by_text("Extra Fields", exact=True).click()
    for label in ("Tenant", "Authentication", "OAuth2 token URL", "Request timeout (s)", "Max retries"):
        assert form.get_by_text(label, exact=True).is_visible()
    # The auth type reads as words, not as a raw null.
    automatic = "automatic (API key, or OAuth2 when a client id is set)"
    assert form.get_by_text(automatic).is_visible()
    form.get_by_label("Authentication").focus()
    page.keyboard.press("ArrowDown")  # opens the menu, as a click on the control would
    page.get_by_role("option").last.wait_for()
    options = page.get_by_role("option").all_inner_texts()
    assert options == [automatic, "API key", "bearer token", "OAuth2 client credentials"]
    page.get_by_role("option", name=automatic).click()
    # verify takes a CA bundle path, which a switch could not.
    form.locator("[name=element_verify]").fill(CA_BUNDLE)
    if SCREENSHOT:
        form.screenshot(path=SCREENSHOT)
    toast_after(page, form.get_by_role("button", name="Save").click, "successfully created")

    conn = stored(airflow, "spark_ui")
    assert (conn["host"], conn["password"], conn["port"]) == (f"{emu.base_url}/{emu.tenant}", emu.api_key, None)
    extra = conn["extra_dejson"]
    assert sorted(extra) == ["auth_type", "max_retries", "tenant", "timeout", "token_url", "verify"]
    assert (extra["auth_type"], extra["tenant"], extra["verify"]) == (None, None, CA_BUNDLE)
    config = parse_connection("spark_ui", host=conn["host"], login=None, password=conn["password"], extra=extra)
    assert (config.tenant, config.auth_type, config.verify) == (emu.tenant, "api_key", CA_BUNDLE)

    # Test is on the connection's row. Airflow 3.3.2 sends port 0 there, which the API refuses
    # as a different connection (apache/airflow#73298): the README says so, with the CLI instead.
    row = page.get_by_role("row", name=re.compile("spark_ui"))
    test_button = row.get_by_role("button", name="Test Connection")
    assert "Test Connection Failed" in toast_after(page, test_button.click, "Bad Request")
    assert "Connection success!" in airflow.run("connections", "test", "spark_ui").stdout
    # With the fix's request, the button reports our test's outcome.
    page.route("**/api/v2/connections/test", with_port_left_out)
    toast_after(page, test_button.click, f"Connected to Spark tenant '{emu.tenant}' at {emu.base_url}")

    # A wrong key, saved through the edit form: the failure says what failed, in the user's terms.
    row.get_by_role("button", name="Edit Connection").click()
    form = page.get_by_role("dialog")
    form.locator("input[name=password]").fill(WRONG_KEY)
    toast_after(page, form.get_by_role("button", name="Save").click, "successfully updated")
    failure = toast_after(page, test_button.click, "HTTP 401")
    assert "was refused: check credentials" in failure
    for unwanted in (WRONG_KEY, "spark_ui", *INTERNAL):
        assert unwanted not in failure
    # Saving the form kept the CA bundle path.
    assert stored(airflow, "spark_ui")["extra_dejson"]["verify"] == CA_BUNDLE
    assert stored(airflow, "spark_ui")["password"] == WRONG_KEY
