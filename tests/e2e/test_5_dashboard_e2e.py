"""The dashboard in a real browser (headless Chromium, chromium-driver and
python3-selenium from Debian): through nginx, with the admin token typed into the page,
it shows the fleet heal after a crash and grow after a burst of reads, with no console
error. Screenshots land in build/ (docs/dashboard.png is one of them, kept)."""
import os
import time

import pytest
import requests

from e2e import db, fleet_settled, wait_for

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service as ChromeService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHOTS = os.path.join(ROOT, "build")


@pytest.fixture
def browser():
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1300"):
        opts.add_argument(a)
    opts.binary_location = "/usr/bin/chromium"
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=ChromeService(executable_path="/usr/bin/chromedriver"), options=opts)
    yield d
    d.quit()


# Read in one script each: the page redraws every second, so elements found one call
# earlier may be gone (a stale element) by the next.
def rows(d, role=None, state=None):
    sel = "#workers tbody tr" + (f"[data-role='{role}']" if role else "") + (f"[data-state='{state}']" if state else "")
    return [tuple(r) for r in d.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(r => [r.dataset.id, r.dataset.state]);", sel)]


def events(d, kind):
    return d.execute_script("return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent);",
                            f"#events li[data-type='{kind}']")


def severe(entries):
    return [e for e in entries if e.get("level") == "SEVERE"]


def test_dashboard_shows_the_fleet_heal_and_scale(composed, browser):
    f, d = composed, browser
    fleet_settled(f, 1, timeout=2 * f.scale_interval + 60)
    d.get(f.lb_url + "/dashboard/")
    token = os.environ.get("ADMIN_TOKEN", "")
    if token:  # the page asks once and keeps it for the session
        wait_for(lambda: d.find_element(By.ID, "auth").is_displayed(), 10, "the token prompt")
        d.find_element(By.ID, "token").send_keys(token)
        d.find_element(By.ID, "token-save").click()
        # what came before the token: only the 401s that made the page ask
        before = severe(d.get_log("browser"))
        assert all(e.get("source") == "network" and "401" in e["message"] for e in before), before
    wait_for(lambda: len(rows(d, "master")) == 1 and len(rows(d, "slave", "serving")) == 1 and len(rows(d)) == 2,
             30, "one master and one serving slave on the page")
    assert d.find_element(By.ID, "live").text == "live"
    (old_slave, _), = rows(d, "slave")
    crashed_before = len(events(d, "worker_crashed"))

    d.find_element(By.ID, "crash-slave").click()
    d.switch_to.alert.accept()
    t0 = time.monotonic()
    wait_for(lambda: len(events(d, "worker_crashed")) > crashed_before, 5, "the crash on the timeline")
    wait_for(lambda: any(i != old_slave for i, _ in rows(d, "slave", "serving")), 5 - (time.monotonic() - t0),
             "a new slave serving within 5 s of the crash")
    healed = time.monotonic() - t0
    d.save_screenshot(os.path.join(SHOTS, "dashboard-crash.png"))

    # a burst of reads above 20 in one interval: the autoscaler wants more slaves
    scale_before = len(events(d, "scale_out"))
    for _ in range(70):
        assert db(f, "read", {"table": "users", "columns": ["username"], "limit": 1}).status_code == 200
    wait_for(lambda: len(events(d, "scale_out")) > scale_before, f.scale_interval + 15, "the scale-out event")
    wait_for(lambda: len(rows(d, "slave")) >= 3, 20, "the new slaves' rows")
    wait_for(lambda: len(rows(d, "slave", "serving")) >= 3, 60, "the new slaves serving")
    d.save_screenshot(os.path.join(SHOTS, "dashboard-scaled.png"))
    assert severe(d.get_log("browser")) == []
    print(f"dashboard: new slave serving {healed:.2f} s after the crash")


def test_fleet_and_events_need_the_token(composed):
    if not os.environ.get("ADMIN_TOKEN"):
        pytest.skip("the fleet runs without ADMIN_TOKEN")
    for path in ("/api/v1/fleet", "/api/v1/events"):
        r = requests.get(composed.orch_url + path, headers={"Authorization": None}, timeout=5, stream=True)
        assert r.status_code == 401
    r = requests.get(composed.lb_url + "/dashboard/api/v1/fleet", headers={"Authorization": None}, timeout=5)
    assert r.status_code == 401
    r = requests.get(composed.lb_url + "/dashboard/api/v1/fleet", timeout=5)
    assert r.status_code == 200 and {"workers", "autoscaler", "events"} <= set(r.json())
