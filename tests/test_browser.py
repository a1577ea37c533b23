"""End to end, in a real browser: a link post from first login to the public news page.

Drives Debian's chromium through chromedriver (Selenium) against pytest-django's live server.
Every step goes through the pages a person would use: the fixtures only create the users and
the channel record (and, for the photo, the consent register). A screenshot of each step is
kept in test-results/screenshots/.

    env -u DATABASE_URL uv run --frozen pytest tests/test_browser.py -x -q
"""

import base64
import contextlib
import os
import re
import shutil
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from config.school import roles
from config.school.tenancy import first_school
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.gates.clear_objective import gate as clear_objective_gate
from moderation.gates.pipeline import PIPELINE
from moderation.models import Draft, PublishedPost
from pixels import detection, photos
from tests.conftest import PASSWORD, complete_channel, link_draft, make_user

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = PROJECT_ROOT / "test-results" / "screenshots"
LINK = "https://www.example.sch.uk/newsletter"
OUTCOME = "Families read the spring newsletter online."
ATOM = "{http://www.w3.org/2005/Atom}"
WAIT_SECONDS = 20

pytestmark = [
    pytest.mark.browser, pytest.mark.django_db(transaction=True),
    # What a person sees and does through the browser is the same whichever database holds the
    # rows; the PostgreSQL run covers the database through every other test.
    pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="the browser walk-throughs run in the SQLite run"),
]


def _missing_browser() -> str | None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not (p.is_file() and os.access(p, os.X_OK))]
    if not missing:
        return None
    return (
        f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing: "
        "install Debian's chromium and its driver with `apt-get install chromium chromium-driver`."
    )


@contextlib.contextmanager
def chromium(tmp_path):
    """Headless chromium through Debian's chromedriver; fails under CI, skips elsewhere, when absent.

    Called from the test body (not a fixture) so that a missing browser under CI is a test
    failure rather than a setup error.
    """
    reason = _missing_browser()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"The browser test cannot be skipped under CI: {reason}")
        pytest.skip(reason)

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1280,1600",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})  # the page's console errors, for the layout test
    # An explicit driver path: Selenium Manager never runs, so nothing is downloaded.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Visit:
    """A person at the browser: open pages, click, wait for the next page, keep screenshots."""

    def __init__(self, driver, base_url, folder=""):
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.base_url = driver, base_url
        self.wait = WebDriverWait(driver, WAIT_SECONDS)
        self.shots = 0
        self.folder = SCREENSHOTS / folder
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()

    # --- finding things -------------------------------------------------------------------
    def find(self, css):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC

        return self.wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def all(self, css):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def link(self, text, within="body"):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC

        return self.wait.until(
            EC.element_to_be_clickable((By.XPATH, f"//{within}//a[normalize-space()='{text}']"))
        )

    def button(self, text, within="main"):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC

        return self.wait.until(
            EC.element_to_be_clickable((By.XPATH, f"//{within}//button[normalize-space()='{text}']"))
        )

    def text(self, css="main"):
        return self.find(css).text

    def status(self):
        """The draft's status badge in the page heading."""
        return self.find("h1 .status").text

    # --- moving between pages -------------------------------------------------------------
    def _loaded(self):
        self.wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

    def open(self, path):
        self.driver.get(self.base_url + path)
        self._loaded()

    def click(self, element):
        """Click something that loads a new page, and wait until the new page has fully loaded.

        The old page is marked with a token; the new document does not carry it. (Waiting for
        the old <html> element to go stale races with chromedriver during navigation: it can
        answer "Node with given id does not belong to the document" instead of "stale".)
        """
        from selenium.common.exceptions import WebDriverException

        token, what = uuid.uuid4().hex, element.text or element.tag_name
        self.driver.execute_script("window.__visitToken = arguments[0];", token)
        element.click()

        def new_page_loaded(driver):
            try:
                return driver.execute_script(
                    "return window.__visitToken !== arguments[0] && document.readyState === 'complete';", token
                )
            except WebDriverException:  # the page is being replaced
                return False

        self.wait.until(new_page_loaded, f"no new page loaded after clicking '{what}'")

    def path(self):
        return self.driver.current_url.removeprefix(self.base_url)

    # --- people ---------------------------------------------------------------------------
    def log_in(self, username, screenshot=None):
        self.open("/login/")
        self.find("#id_username").send_keys(username)
        self.find("#id_password").send_keys(PASSWORD)
        if screenshot:
            self.screenshot(screenshot)
        self.click(self.button("Log in"))
        if self.path().startswith("/account/second-factor/"):
            self.give_second_factor(username, screenshot)
        assert self.path() == "/", f"{username} did not reach the home page: {self.path()}\n{self.text()}"

    def give_second_factor(self, username, screenshot=None):
        """Type the code the person's authenticator app would show: the first time, after the QR code."""
        from django_otp.oath import TOTP
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.filter(user__username=username).order_by("-confirmed").first()
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        while device.last_t >= totp.t():  # a code is accepted once: a second sign-in waits for the next one
            time.sleep(1)
        code = totp.token()
        self.find("#id_code").send_keys(f"{code:06d}")
        if screenshot:
            self.screenshot(f"{screenshot}-second-factor")
        self.click(self.button("Continue"))

    def log_out(self):
        self.click(self.button("Log out", within="header"))
        assert self.path().startswith("/login/")
        self.find("#id_username")

    # --- evidence -------------------------------------------------------------------------
    def screenshot(self, name):
        """The whole page, not just the window, as test-results/screenshots/NN-name.png."""
        self.shots += 1
        target = self.folder / f"{self.shots:02d}-{name}.png"
        width, height = self.driver.execute_script(
            "const e = document.documentElement;"
            "return [Math.max(e.scrollWidth, e.clientWidth), Math.max(e.scrollHeight, e.clientHeight)];"
        )
        try:
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            })
            target.write_bytes(base64.b64decode(shot["data"]))
        except Exception:  # a driver without CDP: the window is still evidence
            self.driver.save_screenshot(str(target))
        assert target.stat().st_size > 0
        return target


def test_link_post_from_first_login_to_the_news_page(live_server, head, approver, tmp_path):
    with chromium(tmp_path) as browser:
        _walk_through(browser, live_server, head, approver)


def _walk_through(browser, live_server, head, approver):
    # The office user has not accepted the AUP yet. They also hold the approver role, so the
    # check that an author cannot approve their own draft is about authorship, not role.
    office = make_user("office", roles.OFFICE_STAFF, "Sam", "Patel", accept_aup=False)
    roles.give_role(office, first_school(), roles.APPROVER)
    channel = complete_channel(head, authors=[office])
    visit = Visit(browser, live_server.url)

    # 1. Office staff log in; their first attempt to write a draft leads to the AUP.
    visit.log_in("office", screenshot="login")
    assert "You have not yet accepted version" in visit.text()
    visit.click(visit.link("New draft", within="header"))
    assert visit.path().startswith("/aup/?next=%2Fdrafts%2Fnew%2F")
    assert "Please accept version" in visit.text(".messages")
    visit.screenshot("aup")
    visit.find("input[name=accept]").click()
    visit.click(visit.button("Accept"))
    assert visit.path() == "/drafts/new/"
    assert "you accepted version" in visit.text(".messages")

    # 2. A link-only Facebook post, saved without an objective or an intended outcome.
    assert visit.find("#id_channel option:checked").text == channel.name
    visit.find("#id_link").send_keys(LINK)
    assert visit.find("#id_text").get_attribute("value") == ""
    visit.screenshot("new-draft")
    visit.click(visit.button("Save draft"))
    match = re.fullmatch(r"/drafts/(\d+)/", visit.path())
    assert match, visit.path()
    draft_path = match.group(0)
    draft = Draft.objects.get(pk=int(match.group(1)))
    assert "Draft saved" in visit.text(".messages")
    assert visit.status() == "Being written"
    assert visit.find("main a[href='%s']" % LINK).text == LINK
    visit.screenshot("draft-saved")
    visit.click(visit.button("Submit for checking and approval"))

    # 3. It comes back: the clear-objective gate failed, with the policy clause beside it.
    assert visit.path() == draft_path
    assert visit.status() == "Returned to author"
    assert "Some checks failed" in visit.text(".messages")
    assert "Returned to the author." in visit.text(".banner")
    row = visit.find('tr[data-gate="clear-objective"]')
    assert row.find_element("css selector", ".status").text == "Failed"
    assert "choose its objective" in row.text and "describe its intended outcome" in row.text
    assert row.find_element("css selector", "td.clause").text == clear_objective_gate.clause
    assert clear_objective_gate.clause in visit.text()
    failed = [r.get_attribute("data-gate") for r in visit.all("tr.gate") if "Failed" in r.text]
    assert failed == ["clear-objective"], failed
    visit.screenshot("returned-clear-objective-failed")

    # 4. The author adds the objective and intended outcome, and submits again.
    visit.click(visit.link("Edit the text"))
    assert visit.path() == f"{draft_path}edit/"
    visit.find("input[name=objective][value=community]").click()
    visit.find("#id_intended_outcome").send_keys(OUTCOME)
    visit.screenshot("edit-objective")
    visit.click(visit.button("Save draft"))
    assert visit.path() == draft_path
    assert "Draft saved." in visit.text(".messages")
    assert "Community engagement" in visit.text() and OUTCOME in visit.text()
    visit.click(visit.button("Submit for checking and approval"))
    assert visit.status() == "Awaiting approval"
    assert "Every automatic check passed; 2 wait for the approver" in visit.text(".messages")
    assert visit.find('tr[data-gate="clear-objective"] .status').text == "Passed"

    # The author, though an approver, is offered no way to approve their own draft.
    assert visit.all("#review") == []
    assert visit.all(f"form[action='{draft_path}approve/']") == []
    assert [b for b in visit.all("main button") if b.text.strip() == "Approve"] == []
    assert "A colleague other than you must approve it." in visit.text()
    visit.screenshot("awaiting-approval-author-cannot-approve")
    visit.click(visit.link("Approvals", within="header"))
    queue_row = visit.find("main table tr:nth-child(2)")
    assert LINK in queue_row.text and "Your draft: another colleague must review it" in queue_row.text
    assert [a for a in queue_row.find_elements("css selector", "a") if a.text == "Review"] == []
    visit.screenshot("author-queue")

    # 5. A second colleague reviews it from the queue and confirms every statement.
    visit.log_out()
    visit.log_in("approver")
    visit.click(visit.link("Approvals", within="header"))
    queue_row = visit.find("main table tr:nth-child(2)")
    assert LINK in queue_row.text and "Sam Patel" in queue_row.text
    visit.screenshot("approver-queue")
    visit.click(queue_row.find_element("xpath", ".//a[normalize-space()='Review']"))
    assert visit.path() == draft_path
    boxes = visit.all("#review input[type=checkbox]")
    assert len(boxes) == len(ATTESTATIONS)
    review = visit.text("#review")
    for _key, words in ATTESTATIONS:
        assert words in review
    for box in boxes:
        box.click()
        assert box.is_selected()
    visit.screenshot("review-attested")
    visit.click(visit.button("Approve", within="*[@id='review']"))
    assert visit.path() == draft_path
    assert visit.status() == "Approved", visit.text(".messages")
    assert "Approved. It can be published now." in visit.text(".messages")
    assert "Approved by Jo Okafor" in visit.text()
    visit.screenshot("approved")

    # 6. Published from the same page.
    visit.click(visit.button("Publish now"))
    assert visit.status() == "Published", visit.text(".messages")
    assert "Published. It is in the log" in visit.text(".messages")
    run_rows = visit.all("tr.gate[data-gate]")
    assert len(run_rows) == len(PIPELINE)
    assert all(r.find_element("css selector", ".status").text == "Passed" for r in run_rows)
    visit.screenshot("published")
    post = PublishedPost.objects.get(draft=draft)
    assert post.link == LINK and post.text == ""

    # 7. The headteacher sees it in the published log: author, approver, the checks.
    visit.log_out()
    visit.log_in("head")
    visit.click(visit.link("Published", within="header"))
    assert visit.path() == "/log/"
    log_row = visit.find("main table tr:nth-child(2)")
    cells = [c.text for c in log_row.find_elements("css selector", "td")]
    assert cells[1:7] == [
        channel.name, LINK, "Sam Patel", "Jo Okafor", "Jo Okafor", f"{len(PIPELINE)} passed",
    ], cells
    visit.screenshot("published-log")
    visit.click(log_row.find_element("css selector", "td:first-child a"))
    assert visit.path() == f"/log/{post.pk}/"
    record = {
        tr.find_element("css selector", "th").text: tr.find_element("css selector", "td").text
        for tr in visit.all("main .card table tr") if tr.find_elements("css selector", "th + td")
    }
    assert record["Author"] == "Sam Patel", record
    assert record["Approved by"].startswith("Jo Okafor, "), record
    assert record["Published by"] == "Jo Okafor", record
    assert record["Objective"] == f"Community engagement: {OUTCOME}", record
    assert record["Content hash"] == post.content_hash, record
    gate_rows = visit.all("tr.gate[data-gate]")
    assert [r.get_attribute("data-gate") for r in gate_rows] == [g.id for g in PIPELINE]
    assert all(r.find_element("css selector", ".status").text == "Passed" for r in gate_rows)
    assert visit.find('tr[data-gate="clear-objective"] td.clause').text == clear_objective_gate.clause
    visit.screenshot("published-log-entry")

    # 8. Anyone, without logging in, finds it on the news page and in the Atom feed.
    visit.log_out()
    visit.open("/mirror/")
    assert visit.path() == "/mirror/"
    assert visit.all("header form button") == []  # not logged in
    assert visit.find(f"main article a[href='{LINK}']").text == LINK
    visit.screenshot("mirror")
    status, content_type, body = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/mirror/feed/', {credentials: 'same-origin'})"
        ".then(r => r.text().then(t => done([r.status, r.headers.get('content-type'), t])))"
        ".catch(e => done([0, '', String(e)]));"
    )
    assert status == 200, body
    assert content_type.startswith("application/atom+xml"), content_type
    feed = ET.fromstring(body)
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 1
    links = [e.get("href") for e in entries[0].findall(f"{ATOM}link")]
    assert any(href.endswith(f"/schools/{post.channel.school.slug}/news/{post.pk}/") for href in links), links  # its school's address
    assert LINK in (entries[0].findtext(f"{ATOM}summary") or "")
    visit.open("/mirror/feed/")
    assert LINK in browser.page_source
    visit.screenshot("mirror-feed")


def test_photo_review_faces_boxed_blurred_marked_and_identified_by_hand(live_server, head, approver, tmp_path):
    with chromium(tmp_path) as browser:
        _photo_review(browser, live_server, head, approver)


def _photo_review(browser, live_server, head, approver):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    from tests.gates.test_image_consent import TESTDATA, pupil

    office = make_user("office", roles.OFFICE_STAFF, "Sam", "Patel")
    channel = complete_channel(head, authors=[office])
    # Barry is enrolled, with consent for Facebook; Joe is enrolled, without; Alex is not
    # enrolled, with consent.
    pupil("obama"), pupil("biden"), pupil("alex_lacamoire", enrol=False)
    draft = drafting.create_draft(
        office, channel, text="", link=LINK, objective="community", intended_outcome=OUTCOME,
    )
    draft_path = f"/drafts/{draft.pk}/"
    visit = Visit(browser, live_server.url, folder="photo-review")

    # 1. The author adds a photo from the draft page; every face is boxed and given a status.
    visit.log_in("office")
    visit.open(draft_path)
    visit.find("input[name=file]").send_keys(str(TESTDATA / "posts" / "two_people.jpg"))
    visit.find("#id_source").send_keys("Mrs Patel, school camera, assembly")
    visit.find("#id_rights option[value=school]").click()
    visit.find("#id_alt_text").send_keys("Two visitors at the assembly")
    visit.click(visit.button("Upload"))
    assert "'two_people.jpg' added." in visit.text(".messages"), visit.text(".messages")
    assert len(visit.all("figure.faces rect.facebox")) == 2
    rows = {row.text.split("\n")[0]: row for row in visit.all("table.face-table tr[data-face]")}
    assert len(rows) == 2
    statuses = sorted(row.find_element("css selector", ".status").text for row in rows.values())
    assert statuses == ["Consented", "No consent"], statuses
    barry = next(r for r in rows.values() if "Barry Obama" in r.text)
    joe = next(r for r in rows.values() if "Joe Biden" in r.text)
    assert "with written consent" in barry.text and "no current written consent for Facebook" in joe.text
    visit.screenshot("photo-faces-found")

    # 2. Joe has no consent: the author blurs his face.
    joe_id = joe.get_attribute("data-face")
    visit.click(joe.find_element("xpath", ".//button[normalize-space()='Blur this face']"))
    joe = visit.find(f"tr[data-face='{joe_id}']")
    assert "Blurred" in joe.text, joe.text

    # 3. A face detection missed (say, in the corner): the author drags a box on the photo, with a
    # finger on a phone (the page must not scroll instead), then with a mouse on a desk.
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    browser.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})
    photo = visit.find("figure.faces svg")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", photo)
    scrolled = browser.execute_script("return window.scrollY;")
    width, height = photo.size["width"], photo.size["height"]
    finger = ActionBuilder(browser, mouse=PointerInput(interaction.POINTER_TOUCH, "finger"))
    finger.pointer_action.move_to(photo, -width // 2 + 8, -height // 2 + 8).pointer_down() \
        .move_to(photo, -width // 2 + 40, -height // 2 + 40).move_to(photo, -width // 2 + 70, -height // 2 + 70).pointer_up()
    finger.perform()
    filled = {name: visit.find(f"form.mark-face input[name={name}]").get_attribute("value") for name in ("top", "right", "bottom", "left")}
    assert all(v.isdigit() for v in filled.values()) and int(filled["right"]) > int(filled["left"]), filled
    assert browser.execute_script("return window.scrollY;") == scrolled
    visit.screenshot("photo-face-drawn-with-a-finger")
    browser.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    photo = visit.find("figure.faces svg")
    width = photo.size["width"]
    ActionChains(browser).move_to_element_with_offset(photo, -width // 2 + 10, -photo.size["height"] // 2 + 10) \
        .click_and_hold().move_by_offset(40, 40).release().perform()
    filled = {name: visit.find(f"form.mark-face input[name={name}]").get_attribute("value") for name in ("top", "right", "bottom", "left")}
    assert all(v.isdigit() for v in filled.values()) and int(filled["right"]) > int(filled["left"]), filled
    visit.screenshot("photo-face-drawn")
    visit.click(visit.button("Mark a missed face"))
    assert len(visit.all("figure.faces rect.facebox")) == 3
    marked = next(r for r in visit.all("table.face-table tr[data-face]") if "marked by Sam Patel" in r.text)
    assert "Unknown" in marked.text

    # 4. Submitted: the marked face is for the reviewing colleague to identify.
    visit.click(visit.button("Submit for checking and approval"))
    assert visit.status() == "Awaiting approval", visit.text(".messages")
    consent_row = visit.find('tr[data-gate="image-consent"]')
    assert "must say who each of these is" in consent_row.text
    visit.screenshot("photo-submitted")

    # 5. The approver says who the marked face is: Alex, not enrolled, whose written consent decides.
    visit.log_out()
    visit.log_in("approver")
    visit.open(draft_path)
    marked = next(r for r in visit.all("table.face-table tr[data-face]") if "marked by Sam Patel" in r.text)
    marked.find_element("css selector", "select[name=upn] option[value='A100000000003']").click()
    visit.click(marked.find_element("xpath", ".//button[normalize-space()='Confirm']"))
    marked = next(r for r in visit.all("table.face-table tr[data-face]") if "marked by Sam Patel" in r.text)
    assert "Confirmed" in marked.text and "identified by Jo Okafor" in marked.text, marked.text
    # The checks table says so at once, before anyone presses Approve.
    consent_row = visit.find('tr[data-gate="image-consent"]')
    assert "checked again after a decision" in consent_row.text and "must say who each of these is" not in consent_row.text, consent_row.text
    visit.screenshot("photo-identified-by-hand")

    # 6. Approved and published: the published copy shows Barry, and Joe's face is pixelated.
    for box in visit.all("#review input[type=checkbox]"):
        box.click()
    visit.click(visit.button("Approve", within="*[@id='review']"))
    assert visit.status() == "Approved", visit.text(".messages")
    visit.click(visit.button("Publish now"))
    assert visit.status() == "Published", visit.text(".messages")
    assert visit.find('tr[data-gate="image-consent"] .status').text == "Passed"
    visit.screenshot("photo-published")
    [copy] = PublishedPost.objects.get(draft=draft).media.all()
    published = photos.load_image(copy.path)
    assert len(detection.detect(published)) == 1
    assert photos.metadata_names(copy.path) == []


def test_what_is_typed_while_a_file_is_analysed_is_kept_through_every_progress_update(live_server, head, settings, tmp_path):
    with chromium(tmp_path) as browser:
        _typing_while_analysing(browser, live_server, head, settings, tmp_path)


def _typing_while_analysing(browser, live_server, head, settings, tmp_path):
    import datetime
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone
    from PIL import Image

    from moderation.models import MediaFile

    settings.MEDIA_ANALYSIS = "background"  # a worker would analyse it; here the test moves it along
    office = make_user("office", roles.OFFICE_STAFF, "Sam", "Patel")
    channel = complete_channel(head, authors=[office])
    draft = link_draft(office, channel, link="", text="Sports day, in pictures.")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 60)).save(buffer, "PNG")
    media = drafting.add_media(draft, office, SimpleUploadedFile("field.png", buffer.getvalue()), source="Mrs Patel", rights="school")
    second = tmp_path / "relay.png"
    second.write_bytes(buffer.getvalue())

    visit = Visit(browser, live_server.url, "typing-while-analysing")
    visit.log_in("office")
    visit.open(f"/drafts/{draft.pk}/")
    assert "waiting for its turn" in visit.text(".analysis")
    # A second upload, half filled in, while the first file is analysed.
    visit.find("input[type=file][name=file]").send_keys(str(second))
    visit.find("#id_source").send_keys("Mr Okafor, school camera")
    visit.find("#id_alt_text").send_keys("The relay race")
    started = timezone.now() - datetime.timedelta(seconds=30)
    for progress in (0.25, 0.5, 0.75):  # three reports from the worker, each shown without a reload
        MediaFile.objects.filter(pk=media.pk).update(
            analysis=MediaFile.Analysis.RUNNING, analysis_progress=progress, analysis_started_at=started, analysis_heartbeat=timezone.now()
        )
        visit.wait.until(lambda d: d.find_element("css selector", ".analysis progress").get_attribute("value") == str(round(progress * 100)))
    assert "75%, about" in visit.text(".analysis") and "seconds left" in visit.text(".analysis")
    visit.screenshot("progress-updated-form-kept")
    MediaFile.objects.filter(pk=media.pk).update(analysis=MediaFile.Analysis.DONE, analysis_progress=1.0)
    banner = visit.find("#analysis-done")
    assert "Every file has been analysed" in banner.text
    assert visit.find("#id_source").get_attribute("value") == "Mr Okafor, school camera"
    assert visit.find("#id_alt_text").get_attribute("value") == "The relay race"
    assert visit.find("input[type=file][name=file]").get_attribute("value").endswith("relay.png")
    visit.screenshot("analysed-form-kept")
    visit.find("#id_rights option[value=school]").click()
    visit.click(visit.button("Upload"))
    assert draft.media.count() == 2 and draft.media.get(original_name="relay.png").source == "Mr Okafor, school camera"
