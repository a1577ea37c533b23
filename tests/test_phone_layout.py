"""Every page, as the people who use it see it, on a phone (390 × 844) and on a desk (1280 × 800):
nothing scrolls sideways, no picture is broken, and the browser reports no error. A screenshot
of each page at each width is kept in test-results/screenshots/layout/."""

import os

import pytest

from tests.conftest import Client
from tests.test_browser import Visit, chromium
from tests.test_pages import named_urls
from tests.test_permission_matrix import MATRIX, address, world  # noqa: F401 - the fixture with one of everything

pytestmark = [
    pytest.mark.browser, pytest.mark.django_db(transaction=True),
    # Layout is the pages' markup and styles, the same whichever database holds the rows behind them.
    pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="layout is checked in the SQLite run"),
]

# Every page each person may open, as that person sees it (a draft shows the author, the approver
# and the headteacher different forms).
SEEN_BY = ("anonymous", "office", "approver", "head", "dsl", "register")
SIZES = {"phone": (390, 844), "desk": (1280, 800)}


def pages_for(who, users, ids, by_name):
    """The pages (HTML answered 200 to a GET) this person may open, by url name."""
    client = Client()
    if who != "anonymous":
        client.force_login(users[who])
    found = {}
    for name, route in named_urls():
        if who not in MATRIX.get(name, ()) or name in ("logout", "connect_youtube_done"):
            continue
        url = address(name, route, ids, by_name)
        answer = client.get(url)
        if answer.status_code == 200 and answer.get("Content-Type", "").startswith("text/html"):
            found[name] = url
    return client, found


def problems_on(driver, visit, name, size):
    wide = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth];")
    broken = driver.execute_script(
        "return Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0).map(i => i.getAttribute('src'));"
    )
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    found = []
    if wide[0] > wide[1]:
        found.append(f"{name} at {size}: {wide[0]} px wide in a {wide[1]} px window")
    found += [f"{name} at {size}: broken image {src}" for src in broken]
    found += [f"{name} at {size}: console error {message}" for message in errors]
    return found


def test_every_page_fits_a_phone_and_a_desk_without_sideways_scrolling_broken_pictures_or_errors(world, live_server, tmp_path):
    users, ids, by_name = world
    wrong, done = [], []
    with chromium(tmp_path) as driver:
        visit = Visit(driver, live_server.url, "layout")
        for who in SEEN_BY:
            client, pages = pages_for(who, users, ids, by_name)
            driver.delete_all_cookies()
            visit.open("/health/")  # a page of the site, to set its cookie on; JSON, not a page for people
            driver.get_log("browser")  # (a browser asks any address for /favicon.ico: not one of the pages)
            if who != "anonymous":
                driver.add_cookie({"name": "sessionid", "value": client.cookies["sessionid"].value, "path": "/"})
            for name, url in sorted(pages.items()):
                done.append((who, name))
                for size, (width, height) in SIZES.items():
                    # Chromium's windows have a minimum width: the device metrics are set instead, as
                    # its device toolbar does.
                    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"})
                    visit.open(url)
                    wrong += problems_on(driver, visit, f"{name} ({who})", size)
                    visit.screenshot(f"{who}-{name}-{size}")
    assert len({name for _, name in done}) > 30 and len(done) > 60, sorted(done)
    assert not wrong, "\n".join(wrong)
