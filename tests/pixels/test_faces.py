"""The face engine: safe loading, metadata, detection (every pose, small, dim, covered, tilted), the
models' checks and the matching bands."""

import io
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps
from PIL.PngImagePlugin import PngInfo

from pixels import detection, labelled, photos, recognition, weights
from tests.bad_files import BAD_FILES, png_bytes

TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "testdata"
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

    loaded = photos.load_image(path)

    assert loaded.size == photo.size
    assert len(detection.detect(loaded)) == 2
    boxes = sorted(detection.detect(loaded), key=lambda b: b[3])
    assert boxes[0][2] < loaded.height / 2  # both faces near the top: the photo is upright


def test_a_heic_photo_is_read_upright(tmp_path):
    photo = upright()
    exif = Image.Exif()
    exif[0x0112] = 6
    path = save(photo.transpose(Image.Transpose.ROTATE_90), tmp_path / "IMG_0001.HEIC", "HEIF", exif=exif.tobytes(), quality=90)

    loaded = photos.load_image(path)

    assert loaded.mode == "RGB" and loaded.size == photo.size
    assert len(detection.detect(loaded)) == 2


def test_webp_and_png_are_read_and_transparency_is_flattened_onto_white(tmp_path):
    photo = upright("obama_small.jpg")
    assert photos.load_image(save(photo, tmp_path / "a.webp", "WEBP", quality=90)).size == photo.size
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # transparent red: shown as white
    loaded = photos.load_image(save(rgba, tmp_path / "clear.png", "PNG"))
    assert loaded.mode == "RGB" and loaded.getpixel((0, 0)) == (255, 255, 255)


# --- Bad input: each refused with the file's name and what is wrong ------------------------------


@pytest.mark.parametrize("name, make, message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_input_is_refused_with_the_file_named_and_what_is_wrong(tmp_path, name, make, message):
    data = make()
    if name == "bomb.png":
        assert len(data) < 40_000  # a few kilobytes, 200 megapixels
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(photos.ImageRejected) as refused:
        photos.load_image(path)
    assert f"'{name}'" in str(refused.value)
    assert message in str(refused.value)


def test_a_photo_over_the_pixel_limit_is_not_opened(tmp_path, settings):
    settings.MEDIA_MAX_PIXELS = 1000
    path = tmp_path / "big.png"
    path.write_bytes(png_bytes((100, 100)))
    with pytest.raises(photos.ImageRejected, match=r"'big.png' is 100×100 pixels .* more than the 0.001 megapixels allowed"):
        photos.load_image(path)


def test_a_missing_file_and_another_image_format_are_refused_clearly(tmp_path):
    with pytest.raises(photos.ImageRejected, match="'gone.jpg' does not exist"):
        photos.load_image(tmp_path / "gone.jpg")
    path = save(Image.new("RGB", (20, 20)), tmp_path / "scan.bmp", "BMP")
    with pytest.raises(photos.ImageRejected, match="'scan.bmp' is a BMP image: only JPEG, PNG, WebP or HEIC"):
        photos.load_image(path)


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

    assert photos.metadata_names(path) == ["EXIF", "GPS", "XMP", "IPTC", "device"]


def test_metadata_of_clean_and_partly_tagged_files(tmp_path):
    assert photos.metadata_names(save(Image.new("RGB", (8, 8)), tmp_path / "clean.png", "PNG")) == []
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta><exif:GPSLatitude>51,7.5N</exif:GPSLatitude></x:xmpmeta>')
    assert photos.metadata_names(save(Image.new("RGB", (8, 8)), tmp_path / "xmp.png", "PNG", pnginfo=info)) == ["GPS", "XMP"]
    # A Nikon photo whose GPS block holds only its version number: no location.
    assert photos.metadata_names(POSTS / "alex_lacamoire1.jpg") == ["EXIF", "XMP", "IPTC", "device"]


# --- Detection: every face, in any pose -------------------------------------------------------------

CLIP = TESTDATA / "video" / "short_hamilton_clip.mp4"


def clip_frame(seconds: float) -> Image.Image:
    """The clip's frame shown at this many seconds from its first frame."""
    from pixels import video

    with video.av.open(str(CLIP)) as container:
        first = None
        for frame in container.decode(video=0):
            first = float(frame.time) if first is None else first
            if float(frame.time) - first >= seconds - 1e-3:
                return video.upright(frame).convert("RGB")
    raise AssertionError("the clip is shorter")


def labelled_photos():
    """(photo, its faces, its doubtful faces) for every labelled photo."""
    for path, faces in labelled.photo_faces(TESTDATA).items():
        yield path, [f for f in faces if not f.doubtful], [f for f in faces if f.doubtful]


def test_every_face_labelled_by_eye_in_the_photos_is_found_and_nothing_else():
    for path, faces, doubtful in labelled_photos():
        found = [f.box for f in detection.detect_faces(photos.load_image(path))]
        hits, _ = labelled.found_truth([f.box for f in faces], found)
        _, extra = labelled.found_truth([f.box for f in faces + doubtful], found)
        assert (hits, extra) == (len(faces), 0), path.name


def test_a_face_turned_three_quarters_is_found():
    turned = [(p, f) for p, faces, _ in labelled_photos() for f in faces if f.pose == "three-quarter"]
    assert len(turned) >= 4
    for path, face in turned:
        assert labelled.found_truth([face.box], detection.detect(photos.load_image(path)))[0] == 1, path.name


def test_a_face_in_profile_is_found():
    (pianist,) = [f for f in labelled.video_faces() if f.pose == "profile"]
    time, *box = pianist.sightings[len(pianist.sightings) // 3]
    assert labelled.found_truth([tuple(box)], detection.detect(clip_frame(time)))[0] == 1


def test_a_face_lying_on_its_side_is_found():
    # dogs.jpg: a printed photo of a man's face, lying on its side behind the dog.
    (face,) = labelled.photo_faces(TESTDATA)[POSTS / "dogs.jpg"]
    assert labelled.found_truth([face.box], detection.detect(photos.load_image(POSTS / "dogs.jpg")))[0] == 1
    # A whole photo turned a quarter, with no orientation tag to turn it back.
    photo = upright()
    sideways = photo.transpose(Image.Transpose.ROTATE_90)
    found = detection.detect_faces(sideways)
    assert len(found) == 2 and all(f.height > f.width * 0.6 for f in found)


def test_a_face_half_covered_by_a_hand_is_found():
    photo = upright()
    faces = detection.detect_faces(photo)
    for face in faces:
        for side in ("left", "right"):
            covered = labelled.hand_over(photo, face.box, side)
            assert labelled.found_truth([face.box], detection.detect(covered))[0] == 1, side


def test_a_face_in_a_dim_hall_is_found():
    for name in ("two_people.jpg", "2008_002470.jpg"):
        (path, faces, _), = [(p, f, d) for p, f, d in labelled_photos() if p.name == name]
        dark = labelled.dim(photos.load_image(path), brightness=0.3)
        assert labelled.found_truth([f.box for f in faces], detection.detect(dark))[0] == len(faces), name


def test_a_tilted_head_is_found():
    photo = upright()
    for face in detection.detect_faces(photo):
        for degrees in (-35, 35):
            turned, box = labelled.tilted(photo, face.box, degrees)
            assert labelled.found_truth([box], detection.detect(turned))[0] == 1, degrees


def sources():
    """Every upright face labelled by eye in the photos (not the doubtful ones): (photo, box, who)."""
    return [(photos.load_image(p), f.box, f.who) for p, faces, _ in labelled_photos() for f in faces if not f.turned]


def test_a_12_megapixel_class_photo_with_25_pixel_faces_has_every_face_found(tmp_path):
    photo, truth = labelled.class_photo(sources(), face_px=25, size=(4000, 3000), seed=1, testdata=TESTDATA)
    path = save(photo, tmp_path / "class.jpg", "JPEG", quality=90)
    assert len(truth) == 35

    found = detection.detect(photos.load_image(path))

    assert labelled.found_truth(truth, found) == (35, 0)


def test_faces_of_20_pixels_are_found_all_but_the_rare_one(tmp_path):
    # Measured over six such photos of 35 faces (`manage.py bench`): 207 of 210 found.
    photo, truth = labelled.class_photo(sources(), face_px=20, size=(4000, 3000), seed=1, testdata=TESTDATA)
    found = detection.detect(photos.load_image(save(photo, tmp_path / "class.jpg", "JPEG", quality=90)))
    hits, extra = labelled.found_truth(truth, found)
    assert hits >= len(truth) - 1 and extra == 0


def test_a_face_filling_the_photo_is_found_in_a_reduced_pass():
    photo = upright("obama_small.jpg")
    (face,) = detection.detect_faces(photo)
    scale = 2400 / face.width  # YuNet itself sees faces up to about 300 px
    big = photo.resize((round(photo.width * scale), round(photo.height * scale)))
    (found,) = detection.detect_faces(big)
    assert found.width > 1500 and labelled.same_face(tuple(round(v * scale) for v in face.box), found.box)


@pytest.mark.parametrize("size", [(4000, 3000), (3024, 4032), (9000, 5000), (700, 500)])
def test_tiles_leave_no_face_yunet_sees_outside_every_tile(size):
    width, height = size
    tile, overlap = detection.setting("FACE_TILE"), detection.setting("FACE_TILE_OVERLAP")
    assert overlap > detection.YUNET_LARGEST  # a face YuNet can see at this scale lies within one tile
    columns, rows = detection._spans(width, tile, overlap), detection._spans(height, tile, overlap)
    assert (len(columns) * len(rows) > 1) == (width > tile or height > tile)
    side = detection.YUNET_LARGEST
    for top in range(0, height - side + 1, 97):
        for left in range(0, width - side + 1, 97):
            assert any(x0 <= left and left + side <= x1 for x0, x1 in columns)
            assert any(y0 <= top and top + side <= y1 for y0, y1 in rows)


def test_each_pass_covers_the_faces_the_one_before_is_too_small_for():
    scales = detection.passes(4000, 3000)
    assert scales[0] == 1.0 and detection.YUNET_LARGEST / scales[-1] >= 3000
    for larger, smaller in zip(scales, scales[1:]):
        # The smallest face a pass sees (about 10 px) is within what the pass before it sees.
        assert 10 / smaller <= detection.YUNET_LARGEST / larger
    assert detection.passes(640, 360)[0] == 2.0  # a small picture is enlarged first


# --- The models -------------------------------------------------------------------------------------


def test_yunet_on_onnxruntime_finds_what_opencvs_face_detector_finds():
    # The same model read as cv2.FaceDetectorYN reads it, on every labelled photo at a size with
    # no multiple of 32 (both pad it): the same faces, boxes, landmarks and scores.
    reference = cv2.FaceDetectorYN.create(str(weights.path(weights.YUNET)), "", (64, 64), 0.3, detection.YUNET_NMS,
                                          detection.YUNET_TOP_K)
    compared = 0
    for path in sorted(POSTS.glob("*.jpg")):
        bgr = detection.as_bgr(upright(path.name))
        bgr = detection.resized(bgr, 1001, round(bgr.shape[0] * 1001 / bgr.shape[1]))
        reference.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, expected = reference.detect(bgr)
        expected = np.zeros((0, 15)) if expected is None else expected
        ours = detection.yunet_rows(bgr, 0.3)
        assert len(ours) == len(expected), path.name
        for row in expected:
            assert np.abs(ours - row).max(axis=1).min() < 0.01, path.name
        compared += len(expected)
    assert compared >= 20


def test_a_picture_reduced_by_halves_first_is_the_picture_reduced_at_once():
    rng = np.random.default_rng(1)
    picture = cv2.GaussianBlur(rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8), (9, 9), 3)
    for size in ((1633, 1225), (1000, 750), (250, 188)):
        direct = cv2.resize(picture, size, interpolation=cv2.INTER_AREA).astype(int)
        halved_first = detection.resized(picture, *size)
        assert halved_first.shape == direct.shape
        assert np.abs(halved_first.astype(int) - direct).mean() < 1.0


def test_a_missing_model_fails_closed_with_a_clear_message(tmp_path):
    with pytest.raises(weights.ModelUnavailable, match="face_detection_yunet_2023mar.onnx is missing"):
        weights.path(weights.YUNET, directory=tmp_path)


def test_an_altered_model_fails_closed_with_a_clear_message(tmp_path):
    altered = tmp_path / weights.SFACE
    altered.write_bytes((weights.MODELS_DIR / weights.SFACE).read_bytes()[:-1] + b"\x00")
    with pytest.raises(weights.ModelUnavailable, match="has been altered"):
        weights.path(weights.SFACE, directory=tmp_path)


def test_the_shipped_models_are_the_ones_measured():
    for name in (weights.YUNET, weights.SFACE):
        assert weights.path(name).exists()
    assert weights.retinaface_bytes()


# --- Matching ------------------------------------------------------------------------------------


def test_the_same_person_is_nearer_than_any_stranger_in_the_labelled_photos():
    people = [(image, box, who) for image, box, who in sources()]
    codes = [(recognition.encode(image, box), who or f"stranger {i}") for i, (image, box, who) in enumerate(people)]
    same = [np.linalg.norm(a - b) for i, (a, x) in enumerate(codes) for b, y in codes[i + 1:] if x == y]
    strangers = [np.linalg.norm(a - b) for i, (a, x) in enumerate(codes) for b, y in codes[i + 1:] if x != y]
    assert len(same) >= 10 and len(strangers) >= 500
    # Every same-person pair would be confident; no stranger comes within 0.15 of that band.
    assert max(same) < recognition.setting("FACE_MATCH_CONFIDENT") <= min(strangers) - 0.15


def test_the_register_gives_the_nearest_pupil_and_the_next_nearest_other_pupil():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=128), rng.normal(size=128)
    pupils = ["A", "B", "C"]
    gallery = recognition.Gallery(pupils, [True, False, True], np.array([a, a + 0.01, b, b + 1.0]), [0, 0, 1, 2])
    index, distance, second = gallery.nearest(a + 0.001)
    assert pupils[index] == "A" and distance < 0.05
    assert second == pytest.approx(np.linalg.norm(b - a - 0.001))  # B, not A's second photo
    assert recognition.Gallery([], [], np.zeros((0, 128)), []).nearest(a) == (None, None, None)


@pytest.mark.parametrize(
    "distance, second, width, consented, aligned, status",
    [
        (0.60, 1.30, 120, True, True, "consented"),
        (0.60, 1.30, 120, False, True, "no-consent"),
        (0.60, 0.70, 120, True, True, "uncertain"),  # another pupil is nearly as near
        (0.60, None, 120, True, True, "consented"),  # the only pupil enrolled
        (0.60, 1.30, 25, True, True, "uncertain"),  # too small to be sure who it is
        (0.60, 1.30, 120, True, False, "uncertain"),  # not aligned on its landmarks
        (1.00, 1.30, 120, True, True, "uncertain"),
        (1.00, 1.30, 120, False, True, "uncertain"),
        (1.30, 1.40, 120, True, True, "unknown"),
        (None, None, 120, False, True, "unknown"),  # nobody is enrolled
    ],
)
def test_the_confidence_bands(distance, second, width, consented, aligned, status):
    assert recognition.classify(distance, second, width, consented, aligned) == status


def test_the_bands_can_be_set_in_settings(settings):
    settings.FACE_MATCH_CONFIDENT = 0.4
    assert recognition.classify(0.60, 1.30, 120, True) == "uncertain"
