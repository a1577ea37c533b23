"""Uploads are checked by their content, limited in size, and stored under names the product chooses."""

import io
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from config.school import files
from moderation.drafts import services as drafting
from moderation.drafts.media import MediaRejected
from moderation.gates import pipeline
from moderation.models import MediaFile
from moderation.upkeep import stray_files
from tests.bad_files import BAD_FILES
from tests.conftest import Client, link_draft


def png_bytes(size=(40, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, "blue").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def draft(office, facebook):
    return link_draft(office, facebook)


def add(draft, office, name, data, **kw):
    return drafting.add_media(draft, office, SimpleUploadedFile(name, data), source=kw.get("source", "Mrs Patel, school camera"), rights=kw.get("rights", "school"), alt_text="Pupils' paintings")


def test_a_photo_is_stored_under_a_generated_name_with_its_hash(draft, office, settings):
    media = add(draft, office, "../../etc/passwd.png", png_bytes())
    assert media.kind == "image" and media.content_type == "image/png"
    assert media.original_name == "passwd.png"
    assert media.path.parent == settings.UPLOAD_DIR and "passwd" not in media.stored_name
    assert media.width == 40 and media.height == 30
    assert len(media.sha256) == 64


UPLOAD_BAD_FILES = [
    (name, make, "is not a photo or video that can be read" if name == "notes.jpg" else message)
    for name, make, message in BAD_FILES
]


@pytest.mark.parametrize("name, make, message", UPLOAD_BAD_FILES, ids=[b[0] for b in UPLOAD_BAD_FILES])
def test_a_bad_upload_is_refused_naming_the_file_and_the_draft_loses_nothing(draft, office, settings, name, make, message):
    kept = add(draft, office, "kept.png", png_bytes())
    with pytest.raises(MediaRejected) as refused:
        add(draft, office, name, make())
    assert f"'{name}'" in str(refused.value) and message in str(refused.value)
    draft.refresh_from_db()
    assert list(draft.media.all()) == [kept] and kept.path.exists()
    assert sorted(p.name for p in settings.UPLOAD_DIR.iterdir()) == [kept.stored_name]


def test_a_file_renamed_as_a_photo_is_refused_by_its_content(draft, office, settings):
    with pytest.raises(MediaRejected, match="'holiday.jpg' is not a photo or video"):
        add(draft, office, "holiday.jpg", b"%PDF-1.4 not really a photo")
    assert not MediaFile.objects.exists()
    assert not any(settings.UPLOAD_DIR.iterdir())


def test_a_photo_over_the_pixel_limit_is_refused(draft, office, settings):
    settings.MEDIA_MAX_PIXELS = 1000
    with pytest.raises(MediaRejected, match="'big.png' is 100×100 pixels"):
        add(draft, office, "big.png", png_bytes((100, 100)))


def test_an_oversized_file_is_refused(draft, office, settings):
    settings.MEDIA_MAX_BYTES = 50
    with pytest.raises(MediaRejected, match="'photo.png' is larger than"):
        add(draft, office, "photo.png", png_bytes())
    assert not any(settings.UPLOAD_DIR.iterdir())


def test_the_author_must_declare_the_source_and_rights_of_every_file(draft, office):
    with pytest.raises(ValidationError):
        add(draft, office, "a.png", png_bytes(), source="  ")
    with pytest.raises(ValidationError):
        add(draft, office, "a.png", png_bytes(), rights="found it online")


def test_a_video_is_recognised_by_its_content(draft, office, tmp_path):
    import av

    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_image(Image.new("RGB", (64, 48), (i * 40, 0, 0)))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    media = add(draft, office, "clip.mp4", path.read_bytes())
    assert media.kind == "video" and media.content_type == "video/mp4"
    assert (media.width, media.height) == (64, 48)


def test_removing_a_file_deletes_it_and_is_audited(draft, office):
    media = add(draft, office, "a.png", png_bytes())
    drafting.remove_media(draft, office, media.pk)
    assert not media.path.exists()
    assert draft.audit_entries.filter(action="draft.media_removed").exists()


def test_removing_another_drafts_file_through_ones_own_draft_is_not_found_and_removes_nothing(draft, office, facebook):
    other = link_draft(office, facebook)
    media = add(other, office, "b.png", png_bytes())
    browser = Client()
    browser.force_login(office)
    response = browser.post(f"/drafts/{draft.pk}/media/{media.pk}/remove/")
    assert response.status_code == 404
    assert media.path.exists() and other.media.filter(pk=media.pk).exists()


def test_changing_a_photos_bytes_changes_the_content_hash(draft, office):
    media = add(draft, office, "a.png", png_bytes())
    before = pipeline.freeze(draft).hash
    media.path.write_bytes(png_bytes((41, 30)))
    assert pipeline.freeze(draft).hash != before


def test_an_iphone_heic_photo_is_accepted(draft, office):
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(buffer, "HEIF")
    media = add(draft, office, "IMG_0001.HEIC", buffer.getvalue())
    assert media.content_type == "image/heic" and (media.width, media.height) == (64, 48)


def test_a_sideways_phone_photo_is_measured_as_it_will_be_shown(draft, office):
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    Image.new("RGB", (80, 40), "white").save(buffer, "JPEG", exif=exif)
    media = add(draft, office, "phone.jpg", buffer.getvalue())
    assert (media.width, media.height) == (40, 80)


def test_the_uploads_of_a_withdrawn_draft_are_deleted(draft, office):
    media = add(draft, office, "a.png", png_bytes())
    drafting.withdraw(draft, office)
    assert not media.path.exists()


def test_an_upload_larger_than_allowed_stops_being_read_and_nothing_is_kept(office, facebook, client, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import link_draft

    settings.MEDIA_MAX_BYTES = 100_000
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "incoming")
    (tmp_path / "incoming").mkdir()
    draft = link_draft(office, facebook)
    client.force_login(office)
    big = SimpleUploadedFile("assembly.jpg", b"\xff\xd8" + b"x" * 400_000, content_type="image/jpeg")
    response = client.post(f"/drafts/{draft.pk}/media/", {"file": big, "source": "Mrs Patel", "rights": "school"}, follow=True)
    assert "assembly.jpg&#x27; is larger than the" in response.content.decode()
    assert not draft.media.exists()
    assert list((tmp_path / "incoming").iterdir()) == []
    assert not settings.UPLOAD_DIR.exists() or list(settings.UPLOAD_DIR.iterdir()) == []


# --- An upload's details: said what is needed, changeable afterwards, removal confirmed -------------


def test_the_upload_form_says_the_description_is_needed_to_submit(draft, office, client):
    client.force_login(office)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    assert "Description for people who cannot see it <span class=\"muted\">(needed to submit)</span>" in page
    assert "(optional)</span></label>\n  <input type=\"text\" name=\"alt_text\"" not in page


def test_the_source_rights_and_description_are_changed_without_uploading_again(draft, office, client):
    media = drafting.add_media(draft, office, SimpleUploadedFile("fair.png", png_bytes()), source="Mrs Patel", rights="school")
    analysed_at = media.faces_found_at
    client.force_login(office)
    client.post(f"/drafts/{draft.pk}/media/{media.pk}/details/",
                {"source": "Mr Okafor, school camera, Christmas fair 2026", "rights": "school", "alt_text": "The cake stall"})
    media.refresh_from_db()
    assert media.source == "Mr Okafor, school camera, Christmas fair 2026" and media.alt_text == "The cake stall"
    assert media.faces_found_at == analysed_at and media.path.exists()  # not analysed again
    entry = draft.audit_entries.get(action="draft.media_edited")
    assert entry.data["fields"] == ["source", "alt_text"] and "fair.png" not in entry.summary


def test_details_left_empty_are_refused_with_the_reason_and_nothing_changes(draft, office, client):
    media = drafting.add_media(draft, office, SimpleUploadedFile("fair.png", png_bytes()), source="Mrs Patel", rights="school")
    client.force_login(office)
    page = client.post(f"/drafts/{draft.pk}/media/{media.pk}/details/", {"source": "", "rights": "school", "alt_text": "x"}, follow=True)
    assert "Source: This field is required." in page.content.decode()
    media.refresh_from_db()
    assert media.source == "Mrs Patel" and media.alt_text == ""


def test_only_the_author_changes_an_uploads_details(draft, office, approver):
    media = drafting.add_media(draft, office, SimpleUploadedFile("fair.png", png_bytes()), source="Mrs Patel", rights="school")
    with pytest.raises(PermissionDenied):
        drafting.update_media_details(draft, approver, media.pk, source="Someone else", rights="school", alt_text="")
    media.refresh_from_db()
    assert media.source == "Mrs Patel"


def test_removing_a_file_asks_first_and_says_what_is_lost(draft, office, client):
    drafting.add_media(draft, office, SimpleUploadedFile("fair.png", png_bytes()), source="Mrs Patel", rights="school")
    client.force_login(office)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    assert "data-confirm=\"Remove 'fair.png'? Its analysis and every decision" in page and "site.js" in page


def test_an_upload_form_left_incomplete_shows_each_error_beside_its_field_and_keeps_what_was_typed(draft, office, client):
    client.force_login(office)
    answer = client.post(f"/drafts/{draft.pk}/media/", {"file": SimpleUploadedFile("fair.png", png_bytes()), "source": "",
                                                        "rights": "school", "alt_text": "The cake stall"})
    page = answer.content.decode()
    assert answer.status_code == 400 and not draft.media.exists()
    source = page[page.index('for="id_source"'):]
    assert source.index("This field is required.") < source.index('for="id_rights"')  # beside the source field
    assert 'value="The cake stall"' in page and "Choose &#x27;fair.png&#x27; again" in page


def test_a_file_without_its_description_opens_the_form_to_add_it(draft, office, client):
    drafting.add_media(draft, office, SimpleUploadedFile("fair.png", png_bytes()), source="Mrs Patel", rights="school")
    client.force_login(office)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    assert '<details class="media-details" open><summary>Add its description (needed to submit)' in page


def test_an_upload_no_draft_names_is_deleted_by_the_tidy_round_a_day_later(draft, office, settings):
    media = add(draft, office, "a.png", png_bytes())
    files.store(files.UPLOADS, "left-behind", io.BytesIO(png_bytes()))  # a process stopped between the file and its row
    assert stray_files.delete_strays() == 0  # an upload in progress has its file before its row
    assert stray_files.delete_strays(timezone.now() + timedelta(days=2)) == 1
    assert sorted(p.name for p in settings.UPLOAD_DIR.iterdir()) == [media.stored_name]
