"""No hidden data: what is published carries its picture and sound, and nothing else.

Each carrier a camera, a phone or an editing program can hide words in is put into an upload;
the published copy is read segment by segment (`pixels.hidden_data`) and must hold none of it.
"""

import io
import json
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image, ImageCms, PngImagePlugin

from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.gates import no_location_metadata, pipeline
from moderation.publishing import services as publishing
from pixels import hidden_data, imaging, photos, video_copy
from tests.conftest import link_draft

SECRET = "Amira Khan (Year 4) at 12 Acacia Avenue, CT1 2AB, born 03/04/2017"
XMP = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:description="{SECRET}"/></rdf:RDF></x:xmpmeta>'


def picture(size=(400, 300)) -> Image.Image:
    image = Image.new("RGB", size, (90, 140, 200))
    image.paste((240, 200, 60), (100, 80, 300, 220))
    return image


def saved(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def exif_with_secret() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010E] = SECRET  # ImageDescription
    exif[0x010F] = "Apple"
    exif.get_ifd(0x8825)[2] = (51.0, 16.0, 48.0)  # GPS latitude
    return exif


def with_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """The JPEG with one more segment straight after its start marker."""
    return jpeg[:2] + bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def iptc_segment() -> bytes:
    """An APP13 Photoshop block holding an IPTC caption (2:120), as picture desks write it."""
    caption = SECRET.encode()
    iptc = b"\x1c\x02\x78" + struct.pack(">H", len(caption)) + caption
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    return b"Photoshop 3.0\x00" + resource


def icc_with_description() -> bytes:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return profile + SECRET.encode()  # a profile's text travels with it whatever it says


def png_with(kind: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    if kind == "tEXt":
        info.add_text("Comment", SECRET)
    elif kind == "iTXt":
        info.add_itxt("Description", SECRET, lang="en")
    elif kind == "zTXt":
        info.add_text("Author", SECRET, zip=True)
    if kind == "eXIf":
        return saved(picture(), "PNG", exif=exif_with_secret())
    return saved(picture(), "PNG", pnginfo=info)


def heic_with_metadata() -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return saved(picture(), "HEIF", exif=exif_with_secret(), xmp=XMP.encode())


PHOTO_CARRIERS = {
    "JPEG comment (COM)": lambda: saved(picture(), "JPEG", comment=SECRET.encode()),
    "JPEG EXIF (APP1)": lambda: saved(picture(), "JPEG", exif=exif_with_secret()),
    "JPEG XMP (APP1)": lambda: saved(picture(), "JPEG", xmp=XMP.encode()),
    "JPEG IPTC (APP13)": lambda: with_segment(saved(picture(), "JPEG"), 0xED, iptc_segment()),
    "JPEG ICC profile with a description (APP2)": lambda: saved(picture(), "JPEG", icc_profile=icc_with_description()),
    "PNG tEXt": lambda: png_with("tEXt"),
    "PNG iTXt": lambda: png_with("iTXt"),
    "PNG zTXt": lambda: png_with("zTXt"),
    "PNG eXIf": lambda: png_with("eXIf"),
    "WebP EXIF": lambda: saved(picture(), "WEBP", exif=exif_with_secret()),
    "WebP XMP": lambda: saved(picture(), "WEBP", xmp=XMP.encode()),
    "HEIC metadata": heic_with_metadata,
}
JPEG_CARRIERS = {k: v for k, v in PHOTO_CARRIERS.items() if k.startswith("JPEG")}


def clean_published_bytes(path: Path) -> None:
    data = path.read_bytes()
    assert hidden_data.findings(path) == []
    for fragment in ("Amira", "Acacia", "CT1 2AB", "Apple"):
        assert fragment.encode() not in data and fragment.encode("utf-16-be") not in data


# --- Photos -----------------------------------------------------------------------------------


@pytest.mark.parametrize("carrier", PHOTO_CARRIERS)
def test_the_published_copy_of_a_photo_carries_its_pixels_and_nothing_else(carrier, tmp_path):
    upload = tmp_path / "upload"
    upload.write_bytes(PHOTO_CARRIERS[carrier]())
    copy = imaging.write_published_copy(photos.load_image(upload), [], tmp_path / "published.jpg")
    clean_published_bytes(copy)
    assert Image.open(copy).size == (400, 300)


@pytest.mark.parametrize("carrier", JPEG_CARRIERS)
def test_the_byte_check_finds_each_carrier_in_a_jpeg(carrier, tmp_path):
    assert hidden_data.jpeg_findings(JPEG_CARRIERS[carrier]()) != []


def test_the_byte_check_names_what_it_finds_in_a_jpeg():
    assert hidden_data.jpeg_findings(saved(picture(), "JPEG", comment=b"x")) == ["a comment (COM)"]
    assert hidden_data.jpeg_findings(saved(picture(), "JPEG", exif=exif_with_secret())) == ["EXIF (APP1)"]
    assert hidden_data.jpeg_findings(saved(picture(), "JPEG", icc_profile=icc_with_description())) == ["an ICC colour profile (APP2)"]


def test_bytes_hidden_after_the_end_of_a_jpeg_are_found():
    assert hidden_data.jpeg_findings(saved(picture(), "JPEG") + SECRET.encode()) == [f"{len(SECRET)} bytes after the end of the picture"]


def test_a_jpeg_as_the_product_writes_it_has_nothing_but_its_picture(tmp_path):
    copy = imaging.write_published_copy(picture(), [(80, 300, 220, 100)], tmp_path / "published.jpg")
    assert hidden_data.findings(copy) == []


def test_a_jpeg_comment_never_reaches_the_news_page_or_the_platform(office, approver, facebook, client, data_dir):
    # The attack as it was reported: a comment written into an otherwise plain JPEG.
    Image.new("RGB", (400, 300)).save(data_dir / "com.jpg", comment=SECRET.encode())
    draft = link_draft(office, facebook)
    drafting.add_media(draft, office, SimpleUploadedFile("com.jpg", (data_dir / "com.jpg").read_bytes()),
                       source="Mrs Patel, school camera", rights="school", alt_text="A dark photo of the hall")
    run = drafting.submit(draft, office)
    assert "comments or text" in run.results.get(gate_id="no-location-metadata").message
    approving.approve(draft, approver, dict(ATTESTATIONS))
    post = publishing.publish(draft, approver)
    folder = data_dir / "outbox" / post.platform_post_id
    record = json.loads((folder / "post.json").read_text())
    clean_published_bytes(folder / record["media"][0]["file"])
    news = client.get(f"/mirror/{post.pk}/media/0/")
    assert news.status_code == 200
    body = b"".join(news.streaming_content) if news.streaming else news.content
    assert SECRET.encode() not in body and hidden_data.jpeg_findings(body) == []


def test_the_gate_fails_on_a_published_copy_that_still_carries_anything(office, facebook, monkeypatch, tmp_path):
    # Should the copy ever be written with the upload's extras, the bytes say so and nothing is published.
    def careless_copy(image, boxes, destination):
        image.save(destination, "JPEG", comment=image.info.get("comment", b""))
        return destination

    monkeypatch.setattr(no_location_metadata.imaging, "write_published_copy", careless_copy)
    draft = link_draft(office, facebook)
    drafting.add_media(draft, office, SimpleUploadedFile("com.jpg", PHOTO_CARRIERS["JPEG comment (COM)"]()),
                       source="Mrs Patel, school camera", rights="school", alt_text="The hall")
    result = pipeline.run_gates(draft, "submit", office).results.get(gate_id="no-location-metadata")
    assert result.status == "fail"
    assert "hidden data" in result.message and "a comment (COM)" in result.message


def test_the_gate_is_titled_no_hidden_data_and_keeps_its_id():
    assert no_location_metadata.gate.title == "No hidden data"
    assert no_location_metadata.gate.id == "no-location-metadata"


# --- Videos -----------------------------------------------------------------------------------


def video_with_carriers(path: Path, fmt: str = "mov") -> Path:
    """A short H.264 video carrying words every way a container can: title and location tags,
    QuickTime keys, a subtitle track, chapter titles, and x264's own SEI text in the picture."""
    with av.open(str(path), "w", format=fmt, options={"movflags": "use_metadata_tags"}) as out:
        out.metadata.update({"title": SECRET, "location": "+51.2800+001.0800/", "com.apple.quicktime.make": "Apple"})
        picture_stream = out.add_stream("libx264", rate=10)
        picture_stream.width = picture_stream.height = 64
        picture_stream.pix_fmt = "yuv420p"
        picture_stream.metadata["handler_name"] = "Amira's iPhone"
        subtitles = out.add_mux_stream("mov_text")
        subtitles.time_base = Fraction(1, 10)
        out.set_chapters([{"id": 1, "start": 0, "end": 5, "time_base": Fraction(1, 10), "metadata": {"title": SECRET}}])
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 20, np.uint8), format="rgb24")
            frame.pts = i
            for packet in picture_stream.encode(frame):
                out.mux(packet)
        text = SECRET.encode()
        packet = av.Packet(struct.pack(">H", len(text)) + text)
        packet.stream, packet.pts, packet.dts, packet.time_base, packet.duration = subtitles, 0, 0, Fraction(1, 10), 5
        out.mux(packet)
        for packet in picture_stream.encode():
            out.mux(packet)
    return path


@pytest.mark.parametrize("fmt", ["mov", "mp4"])
def test_the_byte_check_finds_every_carrier_in_a_video(fmt, tmp_path):
    found = " ".join(hidden_data.findings(video_with_carriers(tmp_path / f"carriers.{fmt}", fmt)))
    for carrier in ("tags (udta > meta > ilst", "'keys'", "subtitle", "chapter", "SEI", "tref"):
        assert carrier in found, found


@pytest.mark.parametrize("fmt", ["mov", "mp4"])
def test_a_remuxed_video_carries_its_picture_and_nothing_else(fmt, tmp_path):
    source = video_with_carriers(tmp_path / f"carriers.{fmt}", fmt)
    copy = video_copy.remux(source, tmp_path / "published.mp4")
    clean_published_bytes(copy)
    assert b"x264" not in copy.read_bytes() and b"Lavf" not in copy.read_bytes()
    with av.open(str(copy)) as container:
        assert len(list(container.decode(video=0))) == 10  # every frame still plays


def test_a_blurred_video_carries_its_picture_and_nothing_else(tmp_path):
    source = video_with_carriers(tmp_path / "carriers.mov")
    copy = video_copy.blurred(source, [[[0.0, 10, 40, 40, 10], [1.0, 10, 40, 40, 10]]], tmp_path / "published.mp4")
    clean_published_bytes(copy)
    assert b"x264" not in copy.read_bytes()  # x264 writes its version and options into an SEI unit
    with av.open(str(copy)) as container:
        assert len(list(container.decode(video=0))) == 10


def test_media_data_that_belongs_to_no_frame_is_found(tmp_path):
    copy = video_copy.remux(video_with_carriers(tmp_path / "carriers.mp4", "mp4"), tmp_path / "published.mp4")
    data = bytearray(copy.read_bytes())
    # Grow the media data box by a hidden sentence at its end; the frames' offsets are unchanged.
    at = data.index(b"mdat") - 4
    size = struct.unpack(">I", data[at:at + 4])[0]
    data[at + size:at + size] = SECRET.encode()
    data[at:at + 4] = struct.pack(">I", size + len(SECRET))
    moov = data.index(b"moov") - 4
    assert moov > at  # FFmpeg writes the index after the media data, so no offset moves
    copy.write_bytes(bytes(data))
    assert f"{len(SECRET)} bytes of media data that belong to no frame or sound" in hidden_data.findings(copy)


# --- check_media --published-copy -------------------------------------------------------------


def test_check_media_writes_copies_the_byte_check_finds_clean(tmp_path, db, settings):
    from cryptography.fernet import Fernet

    settings.FACE_KEY = Fernet.generate_key().decode()
    inputs = []
    for i, (carrier, make) in enumerate(PHOTO_CARRIERS.items()):
        path = tmp_path / "in" / f"photo-{i}"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(make())
        inputs.append(str(path))
    inputs.append(str(video_with_carriers(tmp_path / "in" / "video.mov")))
    out = io.StringIO()
    call_command("check_media", "--channel", "facebook", "--json", "--published-copy", str(tmp_path / "out"), *inputs, stdout=out)
    report = json.loads(out.getvalue())
    assert not any(f.get("error") for f in report["files"]), report
    copies = sorted((tmp_path / "out").iterdir())
    assert len(copies) == len(inputs)
    for copy in copies:
        clean_published_bytes(copy)


# --- Who can read the files on the server ------------------------------------------------------


def test_published_copies_and_outbox_files_are_readable_by_the_owner_and_group_only(office, approver, facebook, data_dir):
    draft = link_draft(office, facebook)
    drafting.add_media(draft, office, SimpleUploadedFile("hall.jpg", saved(picture(), "JPEG")),
                       source="Mrs Patel, school camera", rights="school", alt_text="The hall")
    drafting.submit(draft, office)
    approving.approve(draft, approver, dict(ATTESTATIONS))
    publishing.publish(draft, approver)
    from django.conf import settings

    written = [p for root in (settings.PUBLISHED_DIR, data_dir / "outbox") for p in root.rglob("*") if p.is_file()]
    assert len(written) >= 3  # the published copy, and the outbox's copy and post.json
    for path in written:
        assert path.stat().st_mode & 0o777 in (0o640, 0o600), (path, oct(path.stat().st_mode))


def test_a_published_draft_shows_its_published_copy_not_the_deleted_original(office, approver, facebook, client):
    draft = link_draft(office, facebook)
    media = drafting.add_media(draft, office, SimpleUploadedFile("hall.jpg", saved(picture(), "JPEG", comment=SECRET.encode())),
                               source="Mrs Patel, school camera", rights="school", alt_text="The hall")
    drafting.submit(draft, office)
    approving.approve(draft, approver, dict(ATTESTATIONS))
    publishing.publish(draft, approver)
    assert not media.path.exists()
    client.force_login(office)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    assert f"/drafts/{draft.pk}/published/0/" in page and f"/media/{media.pk}/preview" not in page
    shown = client.get(f"/drafts/{draft.pk}/published/0/")
    assert shown.status_code == 200 and hidden_data.jpeg_findings(b"".join(shown.streaming_content)) == []
