"""Property-based tests: random and hostile input to the register import, the text gates and the
image loader gives a clear error or a result, never a crash, and never a partial import."""

import io

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from consent import services as register
from consent.models import BiometricConsent, PhotoConsent, Pupil
from moderation.text import language, personal_data
from pixels import photos
from tests.consent.test_register import HEADER, csv_bytes, row

pytestmark = pytest.mark.django_db

QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Field text a spreadsheet or an attacker might put in a cell.
CELL = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "Yes", "No", "yes", "Y", "01/09/2026", "31/02/2026", "2026-09-01", "=cmd|' /C calc'!A0",
                     '"', '""', "\x00", "\u202e", "Zoë", "A123456789012", "Year 3", ",", "\r\n", "NULL", "9" * 40]),
)


def register_state():
    return (
        sorted(Pupil.objects.values_list("upn", "legal_forename", "legal_surname", "preferred_forename", "year_group", "on_roll")),
        sorted(PhotoConsent.objects.values_list("pupil__upn", "channel_kind", "given", "withdrawn_on")),
        sorted(BiometricConsent.objects.values_list("pupil__upn", "parent_consent", "pupil_objects")),
    )


@pytest.fixture
def keeper(register_keeper):
    # One good import first, so that a rejected file has something it could have damaged.
    report = register.import_register(register_keeper, csv_bytes(row()), file_name="first.csv")
    assert report.imported
    return register_keeper


@QUICK
@given(data=st.binary(max_size=2000))
@example(data=b"")
@example(data=b"\xff\xfe\x00\x00")
@example(data=HEADER.encode() + b"\r\n\x00\x00\x00")
def test_any_bytes_as_the_register_give_a_report_and_change_nothing_unless_imported(keeper, data):
    before = register_state()
    report = register.import_register(keeper, data, file_name="random.csv", partial=True)
    assert report.imported != report.rejected
    if report.rejected:
        assert all(problem.message.strip() for problem in report.problems)
        assert register_state() == before


@QUICK
@given(rows=st.lists(st.lists(CELL, min_size=0, max_size=13), min_size=1, max_size=6), partial=st.booleans())
def test_hostile_rows_are_imported_whole_or_not_at_all(keeper, rows, partial):
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER.split(","))
    writer.writerows(rows)
    before = register_state()
    report = register.import_register(keeper, out.getvalue().encode("utf-8"), file_name="hostile.csv", partial=partial)
    if report.rejected:
        assert register_state() == before, "a rejected file changed the register"
        assert all(p.message.strip() for p in report.problems)
    else:
        assert report.imported


@QUICK
@given(text=st.text(max_size=600))
@example(text="Call 07700 900123 or write to 1 High Street, AB1 2CD, born 01/01/2018")
@example(text="\u202eAva Smith\u202c" * 50)
@example(text="\x00" * 100)
def test_the_text_gates_give_findings_for_any_text(db, text):
    names = personal_data.Names()
    names.add("Ava", "Smith", "A123456789012")
    found = personal_data.find(text, "text", names) + language.flags(text, "text")
    for finding in found:
        assert finding.gate in ("no-personal-data", "respectful-language") and finding.kind and finding.rule
        assert finding.where == "text"


def good_jpeg() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((64, 48), 40).convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


GOOD = good_jpeg()


def check_loader(tmp_path, data: bytes, name="holiday.jpg"):
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    try:
        fmt, image = photos.read_photo(path, name=name)
    except photos.ImageRejected as rejected:
        assert name in str(rejected)  # the message names the file as its owner knows it
        return None
    assert image.mode == "RGB" and image.width > 0 and image.height > 0 and fmt
    return image


@QUICK
@given(data=st.binary(max_size=3000))
def test_any_bytes_as_a_photo_are_read_or_refused_by_name(tmp_path, data):
    check_loader(tmp_path, data)


@QUICK
@given(cuts=st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), min_size=1, max_size=20),
       truncate=st.one_of(st.none(), st.integers(0, len(GOOD))))
def test_a_damaged_photo_is_read_or_refused_by_name(tmp_path, cuts, truncate):
    data = bytearray(GOOD)
    for position, value in cuts:
        data[position] = value
    if truncate is not None:
        data = data[:truncate]
    check_loader(tmp_path, bytes(data))


@QUICK
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's own warning, before our refusal
@given(width=st.integers(1, 200_000), height=st.integers(1, 200_000))
def test_a_png_declaring_any_size_is_read_or_refused_before_it_is_decoded(tmp_path, width, height):
    """A PNG header rewritten to declare width x height: a bomb is refused without decoding it."""
    import struct
    import zlib

    png = io.BytesIO()
    Image.new("L", (8, 8)).save(png, "PNG")
    data = bytearray(png.getvalue())
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    image = check_loader(tmp_path, bytes(data), name="scan.png")
    if width * height > 50_000_000:
        assert image is None  # refused before decoding
