"""The face engine: safe loading, metadata, detection (small faces too) and the matching bands."""

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from PIL.PngImagePlugin import PngInfo

from consent import faces
from consent.management.commands import bench
from tests.bad_files import BAD_FILES, png_bytes

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
POSTS = TESTDATA / "faces" / "posts"

pytestmark = pytest.mark.skipif(not TESTDATA.exists(), reason=f"the labelled test data is not at {TESTDATA}")


def upright(name="two_people.jpg") -> Image.Image:
    with Image.open(POSTS / name) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def save(image, path, fmt=None, **options) -> Path:
    image.save(path, fmt, **options)
    return path


# --- Loading: formats and orientation ---------------------------------------------------------


def test_exif_orientation_is_applied_before_detection(tmp_path):
    photo = upright()
    # Stored on its side, as a phone does, with the EXIF tag saying "turn 90 degrees clockwise".
    exif = Image.Exif()
    exif[0x0112] = 6
    path = save(photo.transpose(Image.Transpose.ROTATE_90), tmp_path / "sideways.jpg", "JPEG", exif=exif.tobytes(), quality=95)

    loaded = faces.load_image(path)

    assert loaded.size == photo.size
    assert len(faces.detect(loaded)) == 2
    with Image.open(path) as raw:  # the same pixels without the orientation: faces on their side are missed
        assert len(faces.detect(raw.convert("RGB"))) < 2


def test_a_heic_photo_is_read_upright(tmp_path):
    photo = upright()
    exif = Image.Exif()
    exif[0x0112] = 6
    path = save(photo.transpose(Image.Transpose.ROTATE_90), tmp_path / "IMG_0001.HEIC", "HEIF", exif=exif.tobytes(), quality=90)

    loaded = faces.load_image(path)

    assert loaded.mode == "RGB" and loaded.size == photo.size
    assert len(faces.detect(loaded)) == 2


def test_webp_and_png_are_read_and_transparency_is_flattened_onto_white(tmp_path):
    photo = upright("obama_small.jpg")
    assert faces.load_image(save(photo, tmp_path / "a.webp", "WEBP", quality=90)).size == photo.size
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # transparent red: shown as white
    loaded = faces.load_image(save(rgba, tmp_path / "clear.png", "PNG"))
    assert loaded.mode == "RGB" and loaded.getpixel((0, 0)) == (255, 255, 255)


# --- Bad input: each refused with the file's name and what is wrong ------------------------------


@pytest.mark.parametrize("name, make, message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_input_is_refused_with_the_file_named_and_what_is_wrong(tmp_path, name, make, message):
    data = make()
    if name == "bomb.png":
        assert len(data) < 40_000  # a few kilobytes, 200 megapixels
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(faces.ImageRejected) as refused:
        faces.load_image(path)
    assert f"'{name}'" in str(refused.value)
    assert message in str(refused.value)


def test_a_photo_over_the_pixel_limit_is_not_opened(tmp_path, settings):
    settings.MEDIA_MAX_PIXELS = 1000
    path = tmp_path / "big.png"
    path.write_bytes(png_bytes((100, 100)))
    with pytest.raises(faces.ImageRejected, match=r"'big.png' is 100×100 pixels .* more than the 0.001 megapixels allowed"):
        faces.load_image(path)


def test_a_missing_file_and_another_image_format_are_refused_clearly(tmp_path):
    with pytest.raises(faces.ImageRejected, match="'gone.jpg' does not exist"):
        faces.load_image(tmp_path / "gone.jpg")
    path = save(Image.new("RGB", (20, 20)), tmp_path / "scan.bmp", "BMP")
    with pytest.raises(faces.ImageRejected, match="'scan.bmp' is a BMP image: only JPEG, PNG, WebP or HEIC"):
        faces.load_image(path)


# --- Metadata ------------------------------------------------------------------------------------


def iptc_segment(caption: bytes) -> bytes:
    record = b"\x1c\x02\x78" + struct.pack(">H", len(caption)) + caption
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(record)) + record
    if len(record) % 2:
        resource += b"\x00"
    body = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def test_metadata_names_what_the_original_carries(tmp_path):
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 250D"
    exif.get_ifd(0x8769)[0xA431] = "083021001234"  # body serial number
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (51.0, 7.0, 30.0), "E", (1.0, 24.0, 10.0)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>'
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), "green").save(buffer, "JPEG", exif=exif.tobytes(), xmp=xmp)
    data = buffer.getvalue()
    path = tmp_path / "trip.jpg"
    path.write_bytes(data[:2] + iptc_segment(b"Year 4 at the seaside") + data[2:])

    assert faces.metadata_names(path) == ["EXIF", "GPS", "XMP", "IPTC", "device"]


def test_metadata_of_clean_and_partly_tagged_files(tmp_path):
    assert faces.metadata_names(save(Image.new("RGB", (8, 8)), tmp_path / "clean.png", "PNG")) == []
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta><exif:GPSLatitude>51,7.5N</exif:GPSLatitude></x:xmpmeta>')
    assert faces.metadata_names(save(Image.new("RGB", (8, 8)), tmp_path / "xmp.png", "PNG", pnginfo=info)) == ["GPS", "XMP"]
    # A Nikon photo whose GPS block holds only its version number: no location.
    assert faces.metadata_names(POSTS / "alex_lacamoire1.jpg") == ["EXIF", "XMP", "IPTC", "device"]


# --- Detection -----------------------------------------------------------------------------------


def test_every_labelled_face_of_the_group_photos_is_found_and_no_dog():
    labels = bench.labels(TESTDATA)["posts"]
    for name, label in labels.items():
        if "face_boxes" not in label and label["people"]:
            continue
        found = faces.detect(faces.load_image(TESTDATA / name))
        hits, extra = bench.found_truth(bench.labelled_boxes(label), found)
        assert (hits, extra) == (len(label.get("face_boxes", [])), 0), name


def test_a_12_megapixel_class_photo_with_25_pixel_faces_has_every_face_found(tmp_path):
    photo, truth = bench.class_photo(bench.source_faces(TESTDATA), face_px=25, size=(4000, 3000), seed=1, testdata=TESTDATA)
    path = save(photo, tmp_path / "class.jpg", "JPEG", quality=90)
    assert len(truth) == 35 and all(right - left == 25 for _, right, _, left in truth)

    found = faces.detect(faces.load_image(path))

    assert bench.found_truth(truth, found) == (35, 0)


@pytest.mark.parametrize("size", [(4000, 3000), (3024, 4032), (1537, 900), (700, 500)])
def test_tiles_leave_no_face_up_to_the_overlap_outside_every_tile(size, settings):
    params = faces.DetectionSettings.current()
    regions = faces.plan(*size, params)
    tiles = [box for box, scale in regions if scale == params.scale]
    width, height = size
    assert (len(regions) > 1) == (width > params.tile or height > params.tile)
    side = params.overlap
    for top in range(0, height - side + 1, 37):
        for left in range(0, width - side + 1, 37):
            assert any(x0 <= left and left + side <= x1 and y0 <= top and top + side <= y1 for x0, y0, x1, y1 in tiles)
    if len(regions) > 1:  # and the whole photo once more, for larger faces
        assert regions[0] == ((0, 0, width, height), min(1.0, 100 / params.overlap))


def test_tiles_are_scanned_on_the_pool(settings):
    settings.FACE_DETECT_TILE = 200
    settings.FACE_DETECT_OVERLAP = 64

    class Pool:
        calls = 0

        def map(self, function, items):
            items = list(items)
            Pool.calls += len(items)
            return [function(item) for item in items]

    image = upright("obama_small.jpg")
    boxes = faces.detect_faces(image, pool=Pool())
    assert Pool.calls == len(faces.plan(*image.size, faces.DetectionSettings.current())) > 2
    assert len(boxes) == 1  # found once, though tiles overlap


# --- Matching ------------------------------------------------------------------------------------


def test_the_register_gives_the_nearest_pupil_and_the_next_nearest_other_pupil():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=128), rng.normal(size=128)
    pupils = ["A", "B", "C"]
    register = faces.Register(pupils, [True, False, True], np.array([a, a + 0.01, b, b + 1.0]), [0, 0, 1, 2])
    index, distance, second = register.nearest(a + 0.001)
    assert pupils[index] == "A" and distance < 0.05
    assert second == pytest.approx(np.linalg.norm(b - a - 0.001))  # B, not A's second photo
    assert faces.Register([], [], np.zeros((0, 128)), []).nearest(a) == (None, None, None)


@pytest.mark.parametrize(
    "distance, second, width, consented, status",
    [
        (0.30, 0.70, 120, True, "consented"),
        (0.30, 0.70, 120, False, "no-consent"),
        (0.30, 0.35, 120, True, "uncertain"),  # another pupil is nearly as near
        (0.30, None, 120, True, "consented"),  # the only pupil enrolled
        (0.30, 0.70, 25, True, "uncertain"),  # too small to be sure who it is
        (0.50, 0.90, 120, True, "uncertain"),
        (0.50, 0.90, 120, False, "uncertain"),
        (0.65, 0.90, 120, True, "unknown"),
        (None, None, 120, False, "unknown"),  # nobody is enrolled
    ],
)
def test_the_confidence_bands(distance, second, width, consented, status):
    assert faces.classify(distance, second, width, consented) == status


def test_the_bands_can_be_set_in_settings(settings):
    settings.FACE_MATCH_CONFIDENT = 0.2
    assert faces.classify(0.30, 0.90, 120, True) == "uncertain"


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has stopped: it only waits to be reaped


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_face_workers_stop_when_the_process_that_started_them_is_killed(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from django.conf import settings

    script = (
        "import os, time, django; django.setup()\n"
        "from consent import faces\n"
        "pool = faces.process_pool()\n"
        "print(' '.join(str(p) for p in sorted({pool.submit(os.getpid).result() for _ in range(8)})), flush=True)\n"
        "time.sleep(120)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert workers and all(_running(p) for p in workers)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    for _ in range(100):  # the workers look for their parent every second
        if not any(_running(p) for p in workers):
            break
        time.sleep(0.2)
    assert not any(_running(p) for p in workers), workers
