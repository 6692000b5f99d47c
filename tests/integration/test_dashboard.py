# SPDX-License-Identifier: MIT
"""The fleet dashboard (issue 18, docs/dashboard.md) in a real browser: Debian's chromium,
headless, driven by Selenium through chromedriver, against one `autoprov serve` (TFTP and
the admin listener) whose inventory and journal were made by `autoprov sim` (devices
provisioned, devices failing on a missing firmware image, devices never seen, MACs the
inventory does not know) and one `autoprov agent` that listens for check-sync.

One daemon and one browser for the module; every wait is a WebDriverWait on a condition.
Each page is saved as a screenshot to $AUTOPROV_SCREENSHOTS (default: a temporary
directory); docs/dashboard/ holds the ones the guide shows."""

import csv
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import peers
from admin import Api, make_token
from harness import BIN, Server, Site, request, run, sanitizer_report, tftp_hpa_get
from test_agent import LiveAgent

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # scripts/deps test installs python3-selenium; say so rather than skip
    webdriver = None

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

USER, PASSWORD = "admin", "s3cret"
TEMPLATE = ("audio.spk.vol = {{vol}}\n"
            "{{#fw}}prov.version.firmware = {{fw}}\n{{/fw}}")
# every simulated endpoint comes from 127.0.0.1: limits allow a fleet, the address is
# trusted as a NAT in front of devices (as tests/integration/test_sim.py)
CONF = f"""
[auth]
user = {USER}:{PASSWORD}
failure_delay = 100
max_failure_delay = 200
[tftp]
max_transfers_per_peer = 4096
[journal]
miss_rows = 0
[defence]
trusted = 127.0.0.0/8
"""

PROVISIONED = [f"0022ee00000{i}" for i in range(1, 5)]
# their firmware image is missing; its name carries their MAC, so the rows name them (a
# generic image's rows name no device, and only the doctor attributes them by address)
FAILING = ["0022ee000005", "0022ee000006"]
NEVER_SEEN = ["0022ee000007", "0022ee000008"]
AGENT = "0022ee000009"                            # the endpoint resync reaches
UNKNOWN = ["0022ee0000a1", "0022ee0000a2"]        # ask, not in the inventory
WAIT = 20  # seconds a condition may take on a busy machine (ASan build)


def upper(mac):
    return mac.upper()


def served(fleet, name):
    """What a real TFTP client (tftp-hpa) gets for `name`: its text, or None when refused."""
    out = fleet.tmp / "fetched"
    out.unlink(missing_ok=True)
    got = tftp_hpa_get(fleet.server.port, name, out)
    return None if b"Error code" in got.stdout or not out.exists() else out.read_text()


def wait_api(pred, what, timeout=WAIT):
    """Poll `pred` (an API read) until it is true; the journal is written every 100 ms."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what() if callable(what) else what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """The site, the daemon and its journal made by `autoprov sim`."""
    tmp = tmp_path_factory.mktemp("dashboard")
    site = Site(tmp / "site")
    site.conf(CONF)
    site.write("algop8188.conf", "audio.spk.vol = 3\n")   # generic: unknown MACs get it
    (site.root / "templates").mkdir()
    (site.root / "templates" / "algom{MAC}.conf").write_text(TEMPLATE)
    for group, vol in (("lobby", 5), ("annex", 4)):
        assert run([BIN, "device", "--site", site.root, "group", "set", group, "--var",
                    f"vol={vol}"]).returncode == 0
    sip_port = peers.free_port(socket.SOCK_DGRAM)
    inventory = tmp / "inventory.csv"
    with open(inventory, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["mac", "model", "profile", "group", "name", "fw", "sip_contact"])
        for i, mac in enumerate(PROVISIONED + FAILING + NEVER_SEEN):
            fw = f"9.9-{upper(mac)}" if mac in FAILING else ""
            w.writerow([mac, "8188", "algo", "lobby", f"Door {i + 1}", fw, ""])
        w.writerow([AGENT, "8188", "algo", "annex", "Paging", "",
                    f"sip:{AGENT}@127.0.0.1:{sip_port}"])
    proc = run([BIN, "device", "--site", site.root, "import", inventory])
    assert proc.returncode == 0, proc.stderr
    write = make_token(site.root, "dash-writer", "write")
    server = Server(site, tmp / "server", args=("--admin", "127.0.0.1:0"))
    api = Api(server.ports["admin"], write)
    # the agent that stays, listening for check-sync (never timing out: the module ends it)
    agent = LiveAgent("--timeout", "0", "--profile", "algo", "--mac", upper(AGENT), "--model",
                      "8188", "--server", f"tftp://127.0.0.1:{server.port}", "--set",
                      f"sip_listen=127.0.0.1:{sip_port}")
    try:
        # the fleet boots: provisioned and unknown MACs (the sim ends once all are), and in
        # parallel the failing ones, retrying on the missing image until their sim times out
        def sim(name, macs, timeout):
            path = tmp / f"{name}.csv"
            with open(path, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["mac", "model", "profile"])
                w.writerows([upper(mac), "8188", "algo"] for mac in macs)
            return subprocess.Popen([str(BIN), "sim", "--json", "--from", path, "--server",
                                     f"tftp://127.0.0.1:{server.port}", "--set",
                                     "resync_error_retry_delay=1", "--timeout", str(timeout)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        good, bad = sim("good", PROVISIONED + UNKNOWN, 120), sim("bad", FAILING, 6)
        for proc, provisioned in ((good, len(PROVISIONED + UNKNOWN)), (bad, 0)):
            out, err = proc.communicate(timeout=150)
            assert not sanitizer_report(err), err
            report = json.loads(out)
            assert report["provisioned"] == provisioned, report

        want = {"never-seen": len(NEVER_SEEN), "provisioning": 0, "failing": len(FAILING),
                "provisioned": len(PROVISIONED) + 1, "change-pending": 0}
        wait_api(lambda: api.json("GET", "/api/v1/device-states")["states"] == want,
                 lambda: f"the states {want}: {api.json('GET', '/api/v1/device-states')}")
        yield type("Fleet", (), {"site": site, "server": server, "api": api, "agent": agent,
                                 "admin": server.ports["admin"], "tmp": tmp})
    finally:
        agent.stop()
        server.stop()


@pytest.fixture(scope="module")
def browser(fleet):
    if webdriver is None or not CHROMIUM or not CHROMEDRIVER:
        pytest.fail("needs chromium, chromium-driver and python3-selenium (scripts/deps test)")
    profile = tempfile.mkdtemp(prefix="autoprov-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--window-size=1280,900", "--no-first-run",
                "--disable-extensions", "--disable-background-networking"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.base = f"http://127.0.0.1:{fleet.admin}/"
    shots = Path(os.environ.get("AUTOPROV_SCREENSHOTS") or fleet.tmp / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)

    def shot(name):
        # the whole page: the window as tall as the document, for the picture only
        size = driver.get_window_size()
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(size["width"], min(max(height, size["height"]), 3000))
        driver.execute_script("window.scrollTo(0, 0);"
                              "document.getElementById('toast').classList.remove('shown')")
        driver.save_screenshot(str(shots / f"{name}.png"))
        driver.set_window_size(size["width"], size["height"])
    driver.shot = shot
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(driver, cond, timeout=WAIT):
    try:
        # a live page redraws: an element read between its lookup and a redraw is asked again
        return WebDriverWait(driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(cond)
    except TimeoutException:
        driver.shot("failed")
        logs = [e["message"] for e in driver.get_log("browser")]
        raise AssertionError(f"page {driver.current_url} never got there; it shows:\n"
                             f"{driver.find_element(By.TAG_NAME, 'body').text}\n"
                             f"browser log: {logs}") from None


def by_id(driver, id_):
    return wait(driver, EC.visibility_of_element_located((By.ID, id_)))


def click(driver, id_):
    """Click a button once it can be clicked, in the middle of the window."""
    el = wait(driver, EC.element_to_be_clickable((By.ID, id_)))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    el.click()


def text_of(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text


def go(driver, route, ready_css):
    driver.get(driver.base + route)
    return wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ready_css)))


def rows(driver, table="devices"):
    """The MACs of a table's rows, read at once (the page may redraw between two reads)."""
    return driver.execute_script(
        f"return [...document.querySelectorAll('#{table}-rows tr')].map(r => r.dataset.mac)")


def timeline_ids(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('#device-timeline li[data-id]')]"
        ".map(li => Number(li.dataset.id))")


def csp_errors(driver):
    return [e["message"] for e in driver.get_log("browser")
            if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]


# ---- the tests, in order: one browser session goes through them ----

def test_login(fleet, browser):
    d = browser
    d.get(d.base)
    by_id(d, "login-user").send_keys(USER)
    d.find_element(By.ID, "login-password").send_keys("wrong" + Keys.ENTER)
    wait(d, EC.text_to_be_present_in_element((By.ID, "login-error"), "Wrong credentials"))
    d.shot("login")
    pw = d.find_element(By.ID, "login-password")
    pw.clear()
    pw.send_keys(PASSWORD + Keys.ENTER)
    wait(d, EC.text_to_be_present_in_element((By.ID, "whoami"), USER))
    assert text_of(d, "#whoami") == f"{USER} (write)"
    # the session cookie is out of the scripts' reach, strict and for the whole listener
    cookie = d.get_cookie("autoprov_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
    assert cookie["path"] == "/"
    assert "autoprov_session" not in d.execute_script("return document.cookie")
    # the live stream is open
    wait(d, EC.text_to_be_present_in_element((By.ID, "live"), "live"))


def test_pages_are_served_with_a_strict_csp(fleet):
    resp = request(fleet.admin, "/")
    assert resp.status == 200 and b'id="login-form"' in resp.body
    csp = resp.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'",
                      "frame-ancestors 'none'"):
        assert directive in csp, csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("app.js", "util.js", "pages.js", "device.js", "charts.js", "app.css", "logo.svg"):
        asset = request(fleet.admin, "/ui/" + name)
        assert asset.status == 200 and asset.body, name
    # nothing inline: no style attribute, no script body, no handler attribute
    html = resp.body.decode()
    assert " style=" not in html and "<style" not in html and not re.search(r"\son[a-z]+=", html)
    assert all("src=" in tag for tag in html.split("<script")[1:])


def test_fleet_counts_equal_the_api(fleet, browser):
    d = browser
    go(d, "#/fleet", "#fleet-count-unknown")

    def same():
        api = fleet.api.json("GET", "/api/v1/fleet")
        page = {s: int(d.find_element(By.ID, f"fleet-count-{s}").get_attribute("data-count"))
                for s in ("never-seen", "provisioning", "provisioned", "failing", "change-pending")}
        unknown = int(d.find_element(By.ID, "fleet-count-unknown").get_attribute("data-count"))
        return (page == api["states"] and unknown == api["unknown"]) and api
    api = wait(d, lambda _: same())
    states = fleet.api.json("GET", "/api/v1/device-states")["states"]
    assert api["states"] == states
    assert states["failing"] == len(FAILING) and states["never-seen"] == len(NEVER_SEEN)
    assert api["unknown"] == len(UNKNOWN)
    # the charts: the requests of the hour (TFTP sent and not found) and the firmware
    total = int(d.find_element(By.ID, "chart-requests").get_attribute("data-total"))
    assert total == sum(r["count"] for r in api["requests"]) and total > 0
    legend = text_of(d, "#chart-requests .legend").splitlines()
    assert sorted(legend) == sorted({f"{r['protocol']} {r['outcome']}" for r in api["requests"]})
    assert any(line.startswith("tftp sent") for line in legend), legend
    # (the sim's Algo endpoints send no User-Agent over TFTP and fetch generic images, whose
    # rows name no device: no firmware is known, and the chart says so)
    chart = text_of(d, "#chart-firmware")
    assert all(f"{f['model']} {f['version']}" in chart for f in api["firmware"])
    assert api["firmware"] or "No firmware known yet." in chart
    d.shot("fleet")


def test_search_finds_a_device(fleet, browser):
    d = browser
    go(d, "#/devices", "#devices-rows tr")
    assert len(rows(d)) == len(PROVISIONED + FAILING + NEVER_SEEN) + 1
    d.shot("devices")
    # a variable's value ("name"), typed: the list follows without a button
    q = d.find_element(By.ID, "devices-q")
    q.send_keys("Door 6")
    wait(d, lambda _: rows(d) == [FAILING[1]])
    # a filter by state, and the address keeps the filters
    q.clear()
    q.send_keys(Keys.BACKSPACE)
    Select(d.find_element(By.ID, "devices-state")).select_by_value("failing")
    wait(d, lambda _: sorted(rows(d)) == FAILING)
    assert "state=failing" in d.current_url
    # sorting by MAC, descending, from the column's header
    Select(d.find_element(By.ID, "devices-state")).select_by_value("")
    wait(d, lambda _: len(rows(d)) == 9)
    click(d, "sort-mac")
    wait(d, lambda _: rows(d)[:1] == [AGENT])
    # a phone's width
    d.set_window_size(390, 844)
    # nothing wider than the phone: the page never scrolls sideways
    wait(d, lambda _: d.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"))
    d.shot("devices-phone")
    d.set_window_size(1280, 900)


def test_device_page_timeline_and_doctor(fleet, browser):
    d = browser
    mac = FAILING[0]
    go(d, f"#/device/{mac}", "#device-timeline li[data-id]")
    wait(d, EC.presence_of_element_located((By.ID, "doctor-summary")))
    doctor = fleet.api.json("GET", f"/api/v1/devices/{mac}/doctor")
    assert text_of(d, "#doctor-summary") == doctor["summary"]
    assert f"9.9-{upper(mac)}" in doctor["summary"]
    journal = fleet.api.json("GET", f"/api/v1/journal?mac={mac}&limit=1000")["entries"]
    assert timeline_ids(d) == sorted((r["id"] for r in journal), reverse=True)
    assert d.find_element(By.ID, "device-state").get_attribute("data-state") == "failing"
    # variables with their origin
    assert text_of(d, "#origin-vol") == "group lobby"
    assert text_of(d, "#origin-fw") == "device"
    d.shot("device-failing")


def test_edit_on_the_page_changes_what_tftp_serves(fleet, browser):
    d = browser
    mac = PROVISIONED[0]
    name = f"algom{upper(mac)}.conf"
    assert served(fleet, name) == "audio.spk.vol = 5\n"
    go(d, f"#/device/{mac}", "#var-vol")
    wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, "#file-md5")))
    vol = d.find_element(By.ID, "var-vol")
    vol.clear()
    vol.send_keys("7")
    click(d, "var-save")
    # saved: the variable is now the device's own
    wait(d, EC.text_to_be_present_in_element((By.ID, "origin-vol"), "device"))
    after = served(fleet, name)
    assert after == "audio.spk.vol = 7\n"
    # the preview shows the same bytes and MD5
    wait(d, EC.text_to_be_present_in_element((By.ID, "file-content"), "audio.spk.vol = 7"))
    assert text_of(d, "#file-md5") == hashlib.md5(after.encode()).hexdigest()
    d.shot("device")
    # disable, then enable: the device's file is refused, then served again
    click(d, "device-enable")
    wait(d, EC.text_to_be_present_in_element((By.ID, "device-enabled"), "no"))
    assert fleet.api.json("GET", f"/api/v1/devices/{mac}")["enabled"] is False
    click(d, "device-enable")
    wait(d, EC.text_to_be_present_in_element((By.ID, "device-enabled"), "yes"))


def test_resync_now_reaches_the_endpoint_and_the_timeline_follows_live(fleet, browser):
    d = browser
    go(d, f"#/device/{AGENT}", "#device-timeline li[data-id]")
    d.execute_script("window.notReloaded = true")
    before = max(timeline_ids(d))
    click(d, "device-resync")
    # the job's result: NOTIFY answered and the endpoint fetched again
    wait(d, lambda _: d.find_element(By.ID, "resync-result").get_attribute("data-fetched") == "yes",
         timeout=40)
    assert "fetched" in text_of(d, "#resync-result")
    # its new rows came over the event stream, the page never reloaded
    wait(d, lambda _: max(timeline_ids(d)) > before)
    assert d.execute_script("return window.notReloaded") is True
    assert d.find_elements(By.CSS_SELECTOR, "#device-timeline li.fresh")
    d.shot("device-resync")


def test_an_unknown_device_is_approved_and_gets_its_file(fleet, browser):
    d = browser
    mac = UNKNOWN[0]
    name = f"algom{upper(mac)}.conf"
    assert served(fleet, name) is None
    listed = fleet.api.json("GET", "/api/v1/unknown-devices")["items"]
    assert mac in [u["mac"] for u in listed], listed
    go(d, "#/unknown", f"#unknown-rows tr[data-mac='{mac}']")
    row = d.find_element(By.CSS_SELECTOR, f"#unknown-rows tr[data-mac='{mac}']")
    assert name in row.text
    d.shot("unknown")
    d.find_element(By.ID, f"unknown-select-{mac}").send_keys(Keys.SPACE)
    Select(d.find_element(By.ID, "unknown-group")).select_by_value("annex")
    click(d, "unknown-approve")
    wait(d, EC.text_to_be_present_in_element((By.ID, "unknown-status"), "1 added to annex"))
    wait(d, lambda _: mac not in rows(d, "unknown"))
    assert fleet.api.json("GET", f"/api/v1/devices/{mac}")["group"] == "annex"
    assert served(fleet, name) == "audio.spk.vol = 4\n"


def test_no_change_without_a_session_or_with_a_forged_csrf_token(fleet, browser):
    d = browser
    mac = PROVISIONED[1]
    before = fleet.api.json("GET", f"/api/v1/devices/{mac}")
    cookie = d.get_cookie("autoprov_session")["value"]
    patch = json.dumps({"vars": {"vol": "99"}})
    hdrs = {"Content-Type": "application/json"}
    # no session, no token
    assert request(fleet.admin, f"/api/v1/devices/{mac}", method="PATCH", body=patch,
                   headers=hdrs).status == 401
    # the session, but no CSRF token, or a forged one
    for extra in ({}, {"X-CSRF-Token": "forged"}):
        resp = request(fleet.admin, f"/api/v1/devices/{mac}", method="PATCH", body=patch,
                       headers={**hdrs, "Cookie": f"autoprov_session={cookie}", **extra})
        assert resp.status == 403, resp
        resp = request(fleet.admin, "/api/v1/unknown-devices/approve", method="POST",
                       body=json.dumps({"macs": [UNKNOWN[1]], "group": "lobby"}),
                       headers={**hdrs, "Cookie": f"autoprov_session={cookie}", **extra})
        assert resp.status == 403, resp
    assert fleet.api.json("GET", f"/api/v1/devices/{mac}") == before
    assert request(fleet.admin, f"/api/v1/devices/{UNKNOWN[1]}",
                   headers={"Authorization": f"Bearer {fleet.api.token}"}).status == 404
    # the page itself sends the right one (the edits above went through); no CSP violation,
    # and nothing was fetched from anywhere but the admin listener (no CDN, no fonts)
    assert csp_errors(d) == []
    fetched = d.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched and all(u.startswith(d.base) for u in fetched), fetched


# every control a screen reader can name: a label, aria-label, or its own text
UNNAMED = """return [...document.querySelectorAll('#main input, #main select, #main button, #main a')]
    .filter(e => e.offsetParent !== null && !(e.labels && e.labels.length)
                 && !e.getAttribute('aria-label') && !e.textContent.trim())
    .map(e => e.outerHTML.slice(0, 120))"""


def test_every_page_fits_a_phone_and_names_its_controls(fleet, browser):
    d = browser
    d.set_window_size(390, 844)
    try:
        for route, ready in (("#/fleet", "#fleet-count-unknown"),
                             ("#/devices", "#devices-rows tr"),
                             (f"#/device/{FAILING[0]}", "#doctor-summary"),
                             ("#/unknown", "#unknown-rows tr")):
            go(d, route, ready)
            wait(d, lambda _: d.execute_script(
                "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"))
            assert d.execute_script(UNNAMED) == [], route
        d.shot("device-phone")
    finally:
        d.set_window_size(1280, 900)


def test_logout_ends_the_session(fleet, browser):
    d = browser
    cookie = d.get_cookie("autoprov_session")["value"]
    go(d, "#/devices", "#devices-rows tr")
    d.find_element(By.ID, "logout").click()
    by_id(d, "login-user")
    assert request(fleet.admin, "/api/v1/session",
                   headers={"Cookie": f"autoprov_session={cookie}"}).status == 401
    # a reload stays on the login page
    d.refresh()
    by_id(d, "login-user")
