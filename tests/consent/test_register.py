"""The consent register: importing MIS exports, the register keeper's pages, changes by hand."""

import datetime
import io
import json

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from config.school import roles
from config.school.models import AuditEntry, School
from config.school.tenancy import scopes_disabled
from consent import services
from consent.models import (
    BiometricConsent,
    ChannelKind,
    FaceEncoding,
    PhotoConsent,
    Pupil,
)
from pixels import recognition

pytestmark = pytest.mark.django_db

HEADER = ("UPN,Legal Forename,Legal Surname,Preferred Forename,Year,Facebook Consent,YouTube Consent,"
          "Consent Date,Consent Expires,Biometric Consent,Objects To Biometrics")
TODAY = timezone.localdate()  # the school's day (Europe/London), as the import uses
SIGNED = TODAY - datetime.timedelta(days=60)  # the date of the written forms
AMIRA, BEN, CARYS = "A123456789012", "B987654321098", "C11122233344X"


def day(date):
    return date.strftime("%d/%m/%Y")


def row(upn=AMIRA, first="Amira", last="Khan", preferred="", year="3", facebook="Yes", youtube="No",
        date=None, expires="", biometric="No", objects="No"):
    return [upn, first, last, preferred, year, facebook, youtube, day(SIGNED) if date is None else date, expires, biometric, objects]


def csv_bytes(*rows, header=HEADER, encoding="utf-8"):
    lines = [header] + [",".join(r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


SCHOOL = (
    row(),
    row(BEN, "Benjamin", "Jones", "Ben", "4", "Yes", "Yes", expires=day(TODAY + datetime.timedelta(days=300)), biometric="Yes"),
    row(CARYS, "Carys", "Evans", "", "R", "No", "No", date=""),
)


def run_import(by, data, **options):
    return services.import_register(by, data, file_name=options.pop("file_name", "register.csv"), **options)


def snapshot():
    """Everything the register holds, to show that something changed nothing."""
    return {
        "pupils": list(Pupil.objects.order_by("upn").values()),
        "photo": list(PhotoConsent.objects.order_by("pupil__upn", "channel_kind").values()),
        "biometric": list(BiometricConsent.objects.order_by("pupil__upn").values()),
        "faces": FaceEncoding.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


def enrol(upn, count=2):
    pupil = Pupil.objects.get(upn=upn)
    for n in range(count):
        FaceEncoding.objects.create(pupil=pupil, encrypted=b"not really encrypted %d" % n, model=recognition.MODEL_ID, source_sha256="0" * 64)
    return pupil


@pytest.fixture
def school(register_keeper):
    report = run_import(register_keeper, csv_bytes(*SCHOOL))
    assert report.imported, [str(p) for p in report.problems]
    return report


# --- Configuration ---------------------------------------------------------------------------


def test_the_default_column_profile_is_exactly_the_agreed_header():
    assert ",".join(settings.REGISTER_PROFILES["default"].values()) == HEADER


def test_a_school_adds_a_column_profile_in_a_json_file_and_chooses_it_by_name(register_keeper, settings, tmp_path):
    mapping = {
        "upn": "Pupil UPN", "legal_forename": "Forename", "legal_surname": "Surname", "preferred_forename": "Known As",
        "year_group": "NC Year", "facebook_consent": "FB", "youtube_consent": "YT", "consent_date": "Signed",
        "consent_expires": "Ends", "biometric_consent": "Biometrics", "objects_to_biometrics": "Pupil Objects",
        "consent_reference": "Form",
    }
    (tmp_path / "profiles.json").write_text(json.dumps({"arbor": mapping}))
    settings.REGISTER_PROFILES_FILE = str(tmp_path / "profiles.json")
    header = ",".join(mapping.values())
    data = csv_bytes(row() + ["Form 2026/17"], header=header)

    report = run_import(register_keeper, data, profile="arbor")

    assert report.imported
    consent = PhotoConsent.objects.get(pupil__upn=AMIRA, channel_kind=ChannelKind.FACEBOOK)
    assert consent.form_reference == "Form 2026/17"


def test_a_profile_file_that_leaves_out_a_field_is_a_usage_error_saying_which(tmp_path, settings):
    (tmp_path / "profiles.json").write_text(json.dumps({"short": {"upn": "UPN"}}))
    settings.REGISTER_PROFILES_FILE = str(tmp_path / "profiles.json")
    err = io.StringIO()

    with pytest.raises(SystemExit) as stopped:
        call_command("import_register", write(tmp_path, csv_bytes(*SCHOOL)), stderr=err)

    assert stopped.value.code == 2
    assert "Profile 'short'" in err.getvalue() and "legal_forename" in err.getvalue()


# --- Importing -------------------------------------------------------------------------------


def test_an_import_adds_pupils_with_their_consents_and_audits_each(school):
    amira = Pupil.objects.get(upn=AMIRA)
    facebook = amira.photo_consents.get(channel_kind=ChannelKind.FACEBOOK)
    youtube = amira.photo_consents.get(channel_kind=ChannelKind.YOUTUBE)
    assert (facebook.given, facebook.given_on, facebook.expires_on) == (True, SIGNED, None)
    assert facebook.form_reference == "MIS import register.csv, row 2"
    assert not youtube.given and youtube.given_on is None
    assert Pupil.objects.get(upn=BEN).biometric_consent.parent_consent
    assert (school.added, school.updated, school.left, school.unchanged) == (3, 0, 0, 0)
    assert AuditEntry.objects.filter(action="register.pupil_added").count() == 3
    # Amira: Facebook; Ben: Facebook and YouTube.
    assert AuditEntry.objects.filter(action="consent.photo_given").count() == 3
    assert AuditEntry.objects.filter(action="register.imported").count() == 1


def test_a_file_missing_a_column_is_rejected_whole_listing_the_column(register_keeper, school):
    before = snapshot()
    header = HEADER.replace(",Consent Expires", "")
    rows = [r[:8] + r[9:] for r in SCHOOL]

    report = run_import(register_keeper, csv_bytes(*rows, header=header))

    assert not report.imported
    assert [str(p) for p in report.problems] == ['row 1, column "Consent Expires": this column is missing']
    assert snapshot() == before


def test_a_bad_date_is_reported_by_row_and_column_and_nothing_changes(register_keeper, school):
    before = snapshot()
    rows = [SCHOOL[0], row(BEN, "Benjamin", "Jones", date="31/02/2026"), SCHOOL[2]]

    report = run_import(register_keeper, csv_bytes(*rows))

    assert [str(p) for p in report.problems] == [
        'row 3, column "Consent Date": "31/02/2026" is not a date (use dd/mm/yyyy or yyyy-mm-dd)'
    ]
    assert snapshot() == before


def test_a_duplicate_upn_is_reported_by_row_and_column_and_nothing_changes(register_keeper, school):
    before = snapshot()
    rows = [*SCHOOL, row(AMIRA.lower(), "Amira", "Khan-Smith")]

    report = run_import(register_keeper, csv_bytes(*rows))

    assert [(p.row, p.column) for p in report.problems] == [(5, "UPN")]
    assert "appears more than once (also on row 2)" in report.problems[0].message
    assert snapshot() == before


def test_an_unknown_yes_no_value_is_reported_by_row_and_column_and_nothing_changes(register_keeper, school):
    before = snapshot()
    rows = [SCHOOL[0], SCHOOL[1], row(CARYS, "Carys", "Evans", youtube="Maybe")]

    report = run_import(register_keeper, csv_bytes(*rows))

    assert [str(p) for p in report.problems] == ['row 4, column "YouTube Consent": "Maybe" is not Yes or No']
    assert snapshot() == before


def test_every_problem_in_a_file_is_listed_at_once(register_keeper):
    rows = [
        row("A12345", date="2026-13-01"),
        row(BEN, "", "Jones", facebook="yes please"),
        row(CARYS, biometric="Yes", date="", facebook="N"),
    ]

    report = run_import(register_keeper, csv_bytes(*rows))

    assert [(p.row, p.column) for p in report.problems] == [
        (2, "UPN"), (2, "Consent Date"), (3, "Legal Forename"), (3, "Facebook Consent"), (4, "Consent Date"),
    ]
    assert Pupil.objects.count() == 0


def test_yes_and_no_are_read_whatever_their_case_and_y_n_true_false_too(register_keeper):
    rows = [row(facebook="YES", youtube="n"), row(BEN, facebook="True", youtube="y", biometric="false", objects="No")]

    assert run_import(register_keeper, csv_bytes(*rows)).imported
    assert set(PhotoConsent.objects.filter(given=True).values_list("pupil__upn", "channel_kind")) == {
        (AMIRA, "facebook"), (BEN, "facebook"), (BEN, "youtube")
    }


def test_reimporting_the_same_file_changes_nothing_and_writes_no_entries(register_keeper, school):
    before = snapshot()

    report = run_import(register_keeper, csv_bytes(*SCHOOL))

    assert report.imported and report.changes == []
    assert (report.added, report.updated, report.left, report.unchanged) == (0, 0, 0, 3)
    assert snapshot() == before


def test_a_changed_file_updates_by_upn_and_logs_each_change(register_keeper, school):
    expires = TODAY + datetime.timedelta(days=100)
    rows = [
        row(year="4", youtube="Yes", expires=day(expires)),  # Amira: new year, YouTube given, Facebook gains an end date
        SCHOOL[1],
        row(CARYS, "Carys", "Evans", "Cari", "R", "No", "No", date=""),  # Carys: a preferred forename
    ]

    report = run_import(register_keeper, csv_bytes(*rows), file_name="register-march.csv")

    assert (report.added, report.updated, report.left, report.unchanged) == (0, 2, 0, 1)
    amira = Pupil.objects.get(upn=AMIRA)
    assert amira.year_group == "Year 4"
    assert amira.photo_consents.get(channel_kind="youtube").given
    facebook = amira.photo_consents.get(channel_kind="facebook")
    assert facebook.expires_on == expires
    assert facebook.form_reference == "MIS import register.csv, row 2"  # the same written form as before
    assert Pupil.objects.get(upn=CARYS).preferred_forename == "Cari"
    logged = AuditEntry.objects.filter(data__file="register-march.csv").exclude(action="register.imported")
    upn_of = dict(Pupil.objects.values_list("pk", "upn"))
    assert sorted((upn_of[e.data["pupil"]], e.action) for e in logged) == [
        (AMIRA, "consent.photo_changed"), (AMIRA, "consent.photo_given"), (AMIRA, "register.pupil_updated"),
        (CARYS, "register.pupil_updated"),
    ]
    year_change = logged.get(action="register.pupil_updated", data__pupil=amira.pk)
    assert year_change.data["changes"] == {"year_group": ["Year 3", "Year 4"]}
    # A name change is recorded as a change, never with the names: they can be erased, the trail cannot.
    carys = Pupil.objects.get(upn=CARYS)
    name_change = logged.get(action="register.pupil_updated", data__pupil=carys.pk)
    assert name_change.data["changes"]["preferred_forename"] == "changed"
    assert "Cari" not in name_change.summary and "Cari" not in json.dumps(name_change.data)


def test_a_no_after_a_yes_withdraws_photo_consent_today_and_keeps_when_it_was_given(register_keeper, school):
    run_import(register_keeper, csv_bytes(row(facebook="No"), *SCHOOL[1:]))

    facebook = PhotoConsent.objects.get(pupil__upn=AMIRA, channel_kind="facebook")
    assert (facebook.given, facebook.given_on, facebook.withdrawn_on) == (False, SIGNED, TODAY)
    assert not facebook.is_current()
    entry = AuditEntry.objects.get(action="consent.photo_withdrawn")
    assert entry.data["pupil"] == facebook.pupil_id and entry.data["channel_kind"] == "facebook"


def test_a_pupil_missing_from_a_full_import_is_marked_left_and_their_encodings_erased(register_keeper, school):
    enrol(BEN)

    report = run_import(register_keeper, csv_bytes(SCHOOL[0], SCHOOL[2]))

    ben = Pupil.objects.get(upn=BEN)
    assert (ben.on_roll, ben.left_on) == (False, TODAY)
    assert report.left == 1
    assert not FaceEncoding.objects.filter(pupil=ben).exists()
    assert AuditEntry.objects.filter(action="register.pupil_left", data__pupil=ben.pk).exists()
    assert AuditEntry.objects.get(action="faces.erased").data == {"pupil": ben.pk, "count": 2, "reason": "the pupil has left the school"}
    assert not PhotoConsent.objects.get(pupil=ben, channel_kind="facebook").is_current()


def test_a_full_import_that_would_mark_many_pupils_as_left_says_so_before_it_is_confirmed(register_keeper, school):
    report = run_import(register_keeper, csv_bytes(SCHOOL[0]), dry_run=True)

    assert report.warnings[0].startswith("2 of the 3 pupils on roll are not in this file: a full import marks them as left")


def test_a_partial_import_leaves_pupils_not_in_the_file_alone(register_keeper, school):
    enrol(BEN)

    report = run_import(register_keeper, csv_bytes(row(year="4")), partial=True)

    assert (report.updated, report.left) == (1, 0)
    assert Pupil.objects.get(upn=BEN).on_roll
    assert FaceEncoding.objects.count() == 2


def test_a_pupil_who_left_and_reappears_is_back_on_roll(register_keeper, school):
    run_import(register_keeper, csv_bytes(*SCHOOL[1:]))

    run_import(register_keeper, csv_bytes(*SCHOOL))

    amira = Pupil.objects.get(upn=AMIRA)
    assert (amira.on_roll, amira.left_on) == (True, None)
    assert AuditEntry.objects.filter(action="register.pupil_returned", data__pupil=amira.pk).exists()


def test_withdrawing_biometric_consent_in_the_file_erases_encodings(register_keeper, school):
    enrol(BEN)

    run_import(register_keeper, csv_bytes(SCHOOL[0], row(BEN, "Benjamin", "Jones", "Ben", "4", "Yes", "Yes",
                                                        expires=SCHOOL[1][8], biometric="No"), SCHOOL[2]))

    consent = BiometricConsent.objects.get(pupil__upn=BEN)
    assert (consent.parent_consent, consent.withdrawn_on) == (False, TODAY)
    assert FaceEncoding.objects.count() == 0
    assert AuditEntry.objects.filter(action="consent.biometric_withdrawn", data__pupil=consent.pupil_id).exists()
    assert AuditEntry.objects.filter(action="faces.erased", data__pupil=consent.pupil_id).exists()


def test_withdrawing_biometric_consent_by_hand_erases_encodings(register_keeper, school):
    ben = enrol(BEN)

    services.withdraw_biometric_consent(ben, register_keeper, "Email from Mr Jones")

    assert FaceEncoding.objects.count() == 0
    assert BiometricConsent.objects.get(pupil=ben).withdrawn_on == TODAY
    assert services.biometric_refusal(Pupil.objects.get(pk=ben.pk))


def test_the_pupils_objection_overrides_parental_consent(register_keeper, school):
    ben = enrol(BEN)
    assert services.biometric_refusal(ben) == ""

    run_import(register_keeper, csv_bytes(SCHOOL[0], SCHOOL[1][:-1] + ["Yes"], SCHOOL[2]))

    consent = BiometricConsent.objects.get(pupil=ben)
    assert consent.parent_consent and consent.pupil_objects
    assert "objects" in consent.refusal()
    assert FaceEncoding.objects.count() == 0


def test_an_import_never_clears_a_recorded_objection(register_keeper, school):
    ben = Pupil.objects.get(upn=BEN)
    services.record_objection(ben, register_keeper, "Ben told his teacher he does not want it")
    before = snapshot()

    report = run_import(register_keeper, csv_bytes(*SCHOOL))

    assert BiometricConsent.objects.get(pupil=ben).pupil_objects
    assert any("objection" in w for w in report.warnings)
    assert snapshot() == before


def test_a_stale_yes_does_not_restore_consent_withdrawn_by_hand(register_keeper, school):
    amira = Pupil.objects.get(upn=AMIRA)
    services.withdraw_photo_consent(amira, ChannelKind.FACEBOOK, register_keeper, "Letter from parent")

    report = run_import(register_keeper, csv_bytes(*SCHOOL))  # the MIS still says Yes, with the old form's date

    assert not PhotoConsent.objects.get(pupil=amira, channel_kind="facebook").is_current()
    assert report.changes == [] and len(report.warnings) == 1


def test_a_new_written_form_after_a_withdrawal_gives_consent_again(register_keeper, school):
    amira = Pupil.objects.get(upn=AMIRA)
    PhotoConsent.objects.filter(pupil=amira, channel_kind="facebook").update(given=False, withdrawn_on=SIGNED)

    run_import(register_keeper, csv_bytes(row(date=day(TODAY)), *SCHOOL[1:]))

    facebook = PhotoConsent.objects.get(pupil=amira, channel_kind="facebook")
    assert facebook.is_current() and facebook.given_on == TODAY and facebook.withdrawn_on is None


def test_photo_consent_is_current_from_its_date_until_its_expiry(register_keeper):
    ends = TODAY + datetime.timedelta(days=10)
    run_import(register_keeper, csv_bytes(row(expires=day(ends)), row(BEN, expires="")))
    dated = PhotoConsent.objects.get(pupil__upn=AMIRA, channel_kind="facebook")
    open_ended = PhotoConsent.objects.get(pupil__upn=BEN, channel_kind="facebook")

    assert dated.is_current(SIGNED) and dated.is_current(ends)
    assert not dated.is_current(ends + datetime.timedelta(days=1))
    assert not dated.is_current(SIGNED - datetime.timedelta(days=1))
    assert open_ended.is_current(TODAY + datetime.timedelta(days=3650))


def test_erasing_encodings_is_audited_without_the_encodings(register_keeper, school):
    ben = enrol(BEN, count=3)

    assert services.erase_encodings(ben, "test", None) == 3

    entry = AuditEntry.objects.get(action="faces.erased")
    assert entry.data == {"pupil": ben.pk, "count": 3, "reason": "test"}
    assert b"not really encrypted" not in json.dumps(entry.data).encode() + entry.summary.encode()
    assert services.erase_encodings(ben, "again", None) == 0
    assert AuditEntry.objects.filter(action="faces.erased").count() == 1


# --- Files that are not what they should be -----------------------------------------------------


def test_a_windows_1252_file_with_an_accented_name_imports(register_keeper):
    data = csv_bytes(row(first="Zoë", last="Ó Briain", preferred="Zoé"), encoding="cp1252")

    assert run_import(register_keeper, data).imported
    pupil = Pupil.objects.get(upn=AMIRA)
    assert (pupil.legal_forename, pupil.legal_surname, pupil.preferred_forename) == ("Zoë", "Ó Briain", "Zoé")


def test_a_utf8_file_with_a_byte_order_mark_imports(register_keeper):
    data = "\ufeff".encode() + csv_bytes(row(first="Łucja"))

    assert run_import(register_keeper, data).imported
    assert Pupil.objects.get(upn=AMIRA).legal_forename == "Łucja"


@pytest.mark.parametrize("data, words", [
    (b"", "The file is empty."),
    (b"  \r\n", "The file is empty."),
    (b"PK\x03\x04\x14\x00\x06\x00", "spreadsheet workbook"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV file"),
    ("UPN\tLegal Forename\r\n".encode("utf-16"), "UTF-16"),
    (HEADER.encode() + b"\r\n", "no pupils"),
    (b"Name;Address\r\nA;B\r\n", "semicolons"),
], ids=["empty", "blank", "xlsx", "image", "utf16", "header-only", "semicolons"])
def test_a_file_that_is_not_a_register_csv_is_rejected_with_a_clear_message(register_keeper, school, data, words):
    before = snapshot()

    report = run_import(register_keeper, data)

    assert report.rejected and words in str(report.problems[0])
    assert snapshot() == before


# --- The command ---------------------------------------------------------------------------------


def write(tmp_path, data, name="register.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_the_command_imports_and_exits_0(tmp_path):
    out = io.StringIO()

    call_command("import_register", write(tmp_path, csv_bytes(*SCHOOL)), stdout=out)

    assert "Imported register.csv: 3 added, 0 updated, 0 marked as left, 0 unchanged." in out.getvalue()
    assert Pupil.objects.count() == 3
    assert AuditEntry.objects.get(action="register.imported").actor is None


def test_the_command_prints_each_problem_and_exits_1(tmp_path):
    err = io.StringIO()
    data = csv_bytes(row(date="31/02/2026"), row(BEN, youtube="Maybe"))

    with pytest.raises(SystemExit) as stopped:
        call_command("import_register", write(tmp_path, data), stderr=err)

    assert stopped.value.code == 1
    assert err.getvalue().splitlines()[1:] == [
        'row 2, column "Consent Date": "31/02/2026" is not a date (use dd/mm/yyyy or yyyy-mm-dd)',
        'row 3, column "YouTube Consent": "Maybe" is not Yes or No',
    ]
    assert Pupil.objects.count() == 0


@pytest.mark.parametrize("arguments, words", [
    (["missing.csv"], "There is no file"),
    (["{file}", "--profile", "sims"], "There is no column profile called 'sims'"),
    (["{file}", "--user", "nobody"], "There is no active user called 'nobody'"),
], ids=["missing-file", "unknown-profile", "unknown-user"])
def test_the_command_exits_2_on_a_usage_error(tmp_path, arguments, words):
    file = write(tmp_path, csv_bytes(*SCHOOL))
    err = io.StringIO()

    with pytest.raises(SystemExit) as stopped:
        call_command("import_register", *[a.format(file=file) for a in arguments], stderr=err)

    assert stopped.value.code == 2 and words in err.getvalue()
    assert Pupil.objects.count() == 0


def test_the_command_dry_run_writes_nothing_and_says_what_would_change(tmp_path, register_keeper, school):
    before = snapshot()
    out = io.StringIO()

    call_command("import_register", write(tmp_path, csv_bytes(SCHOOL[0], SCHOOL[2])), "--dry-run", stdout=out)

    assert "Dry run: nothing was changed." in out.getvalue()
    assert "Benjamin Jones" not in out.getvalue() and "Ben Jones (B987654321098): marked as left" in out.getvalue()
    assert snapshot() == before


def test_the_command_dry_run_of_a_bad_file_exits_1(tmp_path):
    with pytest.raises(SystemExit) as stopped:
        call_command("import_register", write(tmp_path, csv_bytes(row(upn="nonsense"))), "--dry-run", stderr=io.StringIO())

    assert stopped.value.code == 1


def test_the_command_records_the_register_keeper_named_with_user(tmp_path, register_keeper):
    call_command("import_register", write(tmp_path, csv_bytes(*SCHOOL)), "--user", "register", stdout=io.StringIO())

    assert AuditEntry.objects.get(action="register.imported").actor == register_keeper


# --- Who may ---------------------------------------------------------------------------------------


def test_a_non_keeper_cannot_import_through_the_service_or_the_page(client, office):
    with pytest.raises(PermissionDenied):
        run_import(office, csv_bytes(*SCHOOL), dry_run=True)
    client.force_login(office)
    upload = SimpleUploadedFile("register.csv", csv_bytes(*SCHOOL), content_type="text/csv")

    assert client.post("/register/import/", {"file": upload, "profile": "default"}).status_code == 403
    assert client.get("/register/").status_code == 403
    assert Pupil.objects.count() == 0


def test_a_non_keeper_cannot_withdraw_consent_or_see_a_pupil(client, office, school):
    amira = Pupil.objects.get(upn=AMIRA)
    with pytest.raises(PermissionDenied):
        services.withdraw_photo_consent(amira, ChannelKind.FACEBOOK, office)
    client.force_login(office)

    assert client.get(f"/register/{AMIRA}/").status_code == 403
    assert client.post(f"/register/{AMIRA}/change/", {"change": "withdraw_facebook", "note": "x"}).status_code == 403
    assert PhotoConsent.objects.get(pupil=amira, channel_kind="facebook").is_current()


def test_the_headteacher_keeps_the_register_too_and_both_see_it_in_the_navigation(client, head, office):
    assert run_import(head, csv_bytes(*SCHOOL)).imported
    client.force_login(head)
    assert 'href="/register/"' in client.get("/").content.decode()
    client.force_login(office)
    assert 'href="/register/"' not in client.get("/").content.decode()


# --- The pages -------------------------------------------------------------------------------------


def test_the_import_page_previews_then_imports_on_confirmation(client, register_keeper):
    client.force_login(register_keeper)
    upload = SimpleUploadedFile("autumn.csv", csv_bytes(*SCHOOL), content_type="text/csv")

    preview = client.post("/register/import/", {"file": upload, "profile": "default"})

    page = preview.content.decode()
    assert "Nothing has changed yet" in page and "Benjamin Jones" not in page and "Ben Jones" in page
    assert Pupil.objects.count() == 0
    token = preview.context["token"]
    assert "text" in client.session["consent.pending_import"]

    done = client.post("/register/import/", {"token": token})

    assert done.status_code == 200 and "Imported autumn.csv" in done.content.decode()
    assert Pupil.objects.count() == 3
    assert PhotoConsent.objects.get(pupil__upn=AMIRA, channel_kind="facebook").form_reference == "MIS import autumn.csv, row 2"
    assert "consent.pending_import" not in client.session
    again = client.post("/register/import/", {"token": token})
    assert again.status_code == 302 and AuditEntry.objects.filter(action="register.imported").count() == 1


def test_the_import_page_lists_every_problem_and_offers_no_confirmation(client, register_keeper):
    client.force_login(register_keeper)
    upload = SimpleUploadedFile("bad.csv", csv_bytes(row(date="31/02/2026"), row(AMIRA)), content_type="text/csv")

    page = client.post("/register/import/", {"file": upload, "profile": "default"}).content.decode()

    assert "bad.csv cannot be imported" in page
    assert "&quot;31/02/2026&quot; is not a date" in page and "appears more than once" in page
    assert 'name="token"' not in page and "consent.pending_import" not in client.session


def test_a_file_too_large_for_the_page_is_refused_with_a_message(client, register_keeper, settings):
    settings.REGISTER_UPLOAD_MAX_BYTES = 1024
    client.force_login(register_keeper)
    upload = SimpleUploadedFile("huge.csv", csv_bytes(*[row("A%012d" % n) for n in range(40)]), content_type="text/csv")

    response = client.post("/register/import/", {"file": upload, "profile": "default"})

    assert "the largest accepted is 1 KB" in response.content.decode()
    assert "consent.pending_import" not in client.session and Pupil.objects.count() == 0


def test_confirming_after_the_register_changed_imports_nothing_and_shows_a_new_preview(client, register_keeper, school):
    client.force_login(register_keeper)
    upload = SimpleUploadedFile("register.csv", csv_bytes(SCHOOL[0], SCHOOL[2]), content_type="text/csv")
    token = client.post("/register/import/", {"file": upload, "profile": "default"}).context["token"]
    run_import(register_keeper, csv_bytes(SCHOOL[0], SCHOOL[2]), partial=False)  # someone else imports first
    before = snapshot()

    response = client.post("/register/import/", {"token": token})

    assert "The register changed since the preview" in response.content.decode()
    assert snapshot() == before


def test_the_register_page_searches_by_name_or_upn_and_filters_by_year(client, register_keeper, school):
    client.force_login(register_keeper)

    def upns(query):
        response = client.get("/register/", query)
        return [line.pupil.upn for line in response.context["lines"]]

    assert upns({}) == [CARYS, BEN, AMIRA]  # by surname
    assert upns({"search": "ben"}) == [BEN]
    assert upns({"search": "9876543"}) == [BEN]
    assert upns({"year": "Reception"}) == [CARYS]  # imported as R
    page = client.get("/register/").content.decode()
    assert "Yes, no end date" in page and "Yes, until" in page


def test_the_pupil_page_records_a_withdrawal_by_hand_and_shows_the_history(client, register_keeper, school):
    client.force_login(register_keeper)

    response = client.post(f"/register/{AMIRA}/change/", {"change": "withdraw_facebook", "note": "Letter from Mrs Khan, 3 March"})

    assert response.status_code == 302
    assert not PhotoConsent.objects.get(pupil__upn=AMIRA, channel_kind="facebook").is_current()
    page = client.get(f"/register/{AMIRA}/").content.decode()
    assert "Amira Khan: Facebook photo consent withdrawn." in page
    assert "Facebook photo consent withdrawn" in page and "Letter from Mrs Khan, 3 March" in page
    assert "Facebook photo consent given" in page  # the import, earlier
    assert 'id="face-enrolment"' in page
    assert 'value="withdraw_facebook"' not in page  # nothing left to withdraw


def test_an_unknown_pupil_is_not_found(client, register_keeper):
    client.force_login(register_keeper)

    assert client.get("/register/Z000000000000/").status_code == 404


def test_the_register_keeper_enrols_a_face_from_the_pupils_page_and_the_photo_is_not_kept(client, db, settings):
    from pathlib import Path

    from config.school import roles
    from consent.models import BiometricConsent, FaceEncoding
    from tests.conftest import make_user

    photo = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "faces" / "posts" / "obama_small.jpg"
    if not photo.exists():
        pytest.skip("../shared/testdata is not beside the project")
    keeper = make_user("keeper", roles.REGISTER_KEEPER)
    pupil = Pupil.objects.create(upn="A100000000001", legal_forename="Barry", legal_surname="Obama")
    BiometricConsent.objects.create(pupil=pupil, parent_consent=True)
    client.force_login(keeper)
    with open(photo, "rb") as handle:
        response = client.post(f"/register/{pupil.upn}/enrol/", {"photos": handle}, follow=True)
    assert "Enrolled 1 face" in response.content.decode()
    assert FaceEncoding.objects.filter(pupil=pupil).count() == 1
    assert not Path(settings.UPLOAD_DIR).exists() or not any(Path(settings.UPLOAD_DIR).iterdir())


def test_a_pupil_who_objects_is_refused_enrolment_on_their_page(client, db):
    from config.school import roles
    from consent.models import BiometricConsent, FaceEncoding
    from tests.conftest import make_user

    keeper = make_user("keeper", roles.REGISTER_KEEPER)
    pupil = Pupil.objects.create(upn="A100000000001", legal_forename="Ollie", legal_surname="Wright")
    BiometricConsent.objects.create(pupil=pupil, parent_consent=True, pupil_objects=True)
    client.force_login(keeper)
    page = client.get(f"/register/{pupil.upn}/").content.decode()
    assert "cannot be enrolled" in page and "objects" in page
    client.post(f"/register/{pupil.upn}/enrol/", {"photos": io.BytesIO(b"x")})
    assert not FaceEncoding.objects.exists()


# --- Year groups: one way of writing each, whatever the MIS exports ------------------------------


def test_a_year_written_as_a_number_or_in_words_is_the_same_year_and_renames_nobody(register_keeper):
    run_import(register_keeper, csv_bytes(row(year="Year 6"), row(BEN, "Benjamin", "Jones", year="R")))
    assert dict(Pupil.objects.values_list("upn", "year_group")) == {AMIRA: "Year 6", BEN: "Reception"}
    report = run_import(register_keeper, csv_bytes(row(year="6"), row(BEN, "Benjamin", "Jones", year="Reception")))
    assert report.imported and report.updated == 0
    assert dict(Pupil.objects.values_list("upn", "year_group")) == {AMIRA: "Year 6", BEN: "Reception"}


def test_a_year_group_that_is_not_one_is_refused_with_the_format_expected_and_nothing_changes(register_keeper):
    run_import(register_keeper, csv_bytes(*SCHOOL))
    before = snapshot()
    report = run_import(register_keeper, csv_bytes(row(year="6B"), *SCHOOL[1:]))
    assert not report.imported
    assert [str(p) for p in report.problems] == ['row 2, column "Year": "6B" is not a year group: write 4 or Year 4, R or Reception, N or Nursery']
    assert snapshot() == before


def test_erasing_a_record_sits_apart_from_the_routine_changes_and_asks_for_confirmation(client, register_keeper, school):
    client.force_login(register_keeper)
    page = client.get(f"/register/{AMIRA}/").content.decode()
    routine = page[page.index("Record a change by hand"):page.index('id="erase"')]
    assert 'value="erase"' not in routine and "Erase the record" in page and "cannot be undone" in page
    refused = client.post(f"/register/{AMIRA}/change/", {"change": "erase", "note": "Left the school in July"})
    assert refused.status_code == 200 and Pupil.objects.get(upn=AMIRA).erased_at is None
    client.post(f"/register/{AMIRA}/change/", {"change": "erase", "note": "Left the school in July", "confirm": "on"})
    assert not Pupil.objects.filter(upn=AMIRA).exists()  # the UPN is erased with the rest


def test_an_import_previewed_in_one_school_is_not_confirmed_in_another(client, register_keeper):
    other = School.objects.create(name="Bramley Primary School", slug="bramley")
    roles.give_role(register_keeper, other, roles.REGISTER_KEEPER)
    client.force_login(register_keeper)
    upload = SimpleUploadedFile("autumn.csv", csv_bytes(*SCHOOL), content_type="text/csv")
    token = client.post("/register/import/", {"file": upload, "profile": "default"}).context["token"]
    client.post("/school/choose/", {"school": other.pk})
    refused = client.post("/register/import/", {"token": token}, follow=True)
    assert "There is no file waiting to be imported" in refused.content.decode()
    with scopes_disabled():  # in either school
        assert Pupil.objects.count() == 0
