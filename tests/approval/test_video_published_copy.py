"""What the approver sees of a video is what is published: the published copy made once its faces
are decided, its filmstrip, faces marked on a frame, and a second detector on the copy's frames."""

import hashlib
import json
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from moderation.approval import face_review
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.gates import pipeline
from moderation.publishing import services as publishing
from moderation.publishing import video_copies
from pixels import detection, labelled, video
from tests.conftest import link_draft

TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "testdata"
CLIP = TESTDATA / "video" / "short_hamilton_clip.mp4"
pytestmark = pytest.mark.skipif(not CLIP.exists(), reason="../shared/testdata is not beside the project")


def clip_draft(office, youtube, path=CLIP, name="show.mp4"):
    draft = link_draft(office, youtube, link="", title="Our summer show", text="Highlights of the summer show.")
    media = drafting.add_media(draft, office, SimpleUploadedFile(name, Path(path).read_bytes()), source="Mrs Patel, school camera",
                               rights="school", alt_text="The summer show")
    return draft, media


def blur_every_track(media, by):
    for track in media.tracks.all():
        face_review.set_blur(track, True, by)
    video_copies.run_pending()  # what the worker does next


def frames(path):
    """{time from the first frame: upright frame} of a video."""
    out, first = {}, None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            first = float(frame.time) if first is None else first
            out[round(float(frame.time) - first, 3)] = video.upright(frame).convert("RGB")
    return out


def detail(image, box) -> float:
    top, right, bottom, left = box
    pixels = np.asarray(image.convert("L").crop((left, top, right, bottom)), dtype=float)
    return float(np.abs(np.diff(pixels, axis=1)).mean())


def published_video(settings, post):
    [entry] = json.loads((settings.OUTBOX_DIR / post.platform_post_id / "post.json").read_text())["media"]
    return settings.OUTBOX_DIR / post.platform_post_id / entry["file"]


def assert_pixelated_where(face, published, original):
    """Every labelled sighting of the face is pixelated in the published frames."""
    for time, *box in face.sightings:
        when = min(original, key=lambda t: abs(t - time))
        assert detail(published[when], box) < detail(original[when], box) / 2, (face.id, time)


def test_the_published_copy_is_made_once_the_faces_are_decided_and_shown_to_the_approver(db, office, youtube, client):
    draft, media = clip_draft(office, youtube)
    assert video_copies.run_pending() == 1  # the worker makes it once the faces are found
    media.refresh_from_db()
    assert video_copies.current(media) is not None
    client.force_login(office)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    assert f"/drafts/{draft.pk}/media/{media.pk}/published/" in page and "<video" in page
    assert page.count(f"/drafts/{draft.pk}/media/{media.pk}/frames/") >= 2 * 18  # a frame every 0.5 s: link and picture
    response = client.get(f"/drafts/{draft.pk}/media/{media.pk}/published/")
    assert response.status_code == 200 and response["Content-Type"] == "video/mp4"
    frame = client.get(f"/drafts/{draft.pk}/media/{media.pk}/frames/8000.jpg?w=240")
    assert frame.status_code == 200 and frame["Content-Type"] == "image/jpeg"


def test_a_decision_asks_for_a_new_published_copy_and_the_old_one_is_not_shown(db, office, youtube):
    draft, media = clip_draft(office, youtube)
    video_copies.run_pending()
    media.refresh_from_db()
    before = video_copies.current(media)
    face_review.set_blur(media.tracks.first(), True, office)
    media.refresh_from_db()
    assert video_copies.current(media) is None  # asked for again: the page says it is being made
    video_copies.run_pending()
    media.refresh_from_db()
    after = video_copies.current(media)
    assert after is not None and after != before and not before.exists()
    assert media.copy_for == video_copies.decisions_hash(media)


def test_the_very_file_the_approver_watched_is_published(db, office, approver, youtube, settings):
    draft, media = clip_draft(office, youtube)
    blur_every_track(media, office)
    media.refresh_from_db()
    watched = hashlib.sha256(video_copies.current(media).read_bytes()).hexdigest()
    assert drafting.submit(draft, office).passed
    approving.approve(draft, approver, dict(ATTESTATIONS))
    post = publishing.publish(draft, approver)
    assert hashlib.sha256(published_video(settings, post).read_bytes()).hexdigest() == watched
    assert not list(Path(settings.PREVIEW_DIR).glob("*.mp4"))  # not kept once published
    assert all(bytes(t.view) == b"" for t in media.tracks.all())  # nor the faces cut from the original


def test_the_published_copy_has_no_face_the_second_detector_can_see(db, office, approver, youtube):
    draft, media = clip_draft(office, youtube)
    blur_every_track(media, office)
    assert drafting.submit(draft, office).passed
    approving.approve(draft, approver, dict(ATTESTATIONS))
    publishing.publish(draft, approver)
    result = pipeline.latest_run(draft).results.get(gate_id="image-consent")
    assert result.status == "pass" and "second face detector found no other face in the published copy" in result.message


def test_a_face_missed_by_the_engine_and_marked_on_the_filmstrip_is_blurred(db, office, approver, youtube, client, settings, tmp_path):
    # Two people lying on their sides for two seconds: a video is searched upright only, so the
    # engine follows them at best now and then; a person marks one on a frame.
    with Image.open(TESTDATA / "faces" / "posts" / "two_people.jpg") as image:
        upright = image.convert("RGB").resize((640, 376))
    faces_upright = detection.detect_faces(upright)
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    path = labelled.write_video(tmp_path / "lying.mp4", [sideways] * 20, rate=10)
    draft, media = clip_draft(office, youtube, path, "lying.mp4")
    lying = []
    for face in faces_upright:
        top, right, bottom, left = face.box  # turned a quarter anticlockwise: (x, y) -> (y, width - x)
        box = [upright.width - right, bottom, upright.width - left, top]
        lying.append(labelled.VideoFace(f"lying-{left}", None, "profile", tuple((t / 10, *box) for t in range(20))))
    engine = [[[*s] for s in t.sightings] for t in media.tracks.all()]
    assert any(c.share < 1.0 for c in labelled.coverage(engine, lying)[0])
    client.force_login(office)
    page = client.get(f"/drafts/{draft.pk}/media/{media.pk}/frames/1000/")
    assert page.status_code == 200 and "Mark a missed face" in page.content.decode()
    for face in lying:
        box = face.sightings[10][1:]
        client.post(f"/drafts/{draft.pk}/media/{media.pk}/mark-track/",
                    {"seconds": 1.0, "top": box[0], "right": box[1], "bottom": box[2], "left": box[3]})
    marked = list(media.tracks.filter(source="marked"))
    assert len(marked) == 2 and all(t.start == 0.0 and t.end >= 1.8 for t in marked)  # followed through the frames around
    for track in media.tracks.all():
        face_review.set_blur(track, True, office)
    video_copies.run_pending()
    assert drafting.submit(draft, office).passed
    approving.approve(draft, approver, dict(ATTESTATIONS))
    post = publishing.publish(draft, approver)
    published, original = frames(published_video(settings, post)), frames(path)
    for face in lying:
        assert_pixelated_where(face, published, original)


def test_a_face_on_screen_for_half_a_second_is_blurred_in_the_published_video(db, office, approver, youtube, tmp_path, settings):
    with Image.open(TESTDATA / "faces" / "posts" / "two_people.jpg") as image:
        still = image.convert("RGB").resize((640, 376))
    blank = Image.new("RGB", still.size, (90, 90, 90))
    path = labelled.write_video(tmp_path / "wave.mp4", [blank] * 10 + [still] * 5 + [blank] * 10, rate=10)  # faces 1.0-1.5 s
    draft, media = clip_draft(office, youtube, path, "wave.mp4")
    assert media.tracks.count() == 2
    blur_every_track(media, office)
    assert drafting.submit(draft, office).passed
    approving.approve(draft, approver, dict(ATTESTATIONS))
    post = publishing.publish(draft, approver)
    published, original = frames(published_video(settings, post)), frames(path)
    boxes = [f.box for f in detection.detect_faces(still)]
    for when in (1.0, 1.2, 1.4):
        for box in boxes:
            assert detail(published[when], box) < detail(original[when], box) / 2, when


def test_a_face_only_the_second_detector_sees_holds_the_video(db, office, approver, youtube, settings):
    draft, media = clip_draft(office, youtube)
    blur_every_track(media, office)
    assert drafting.submit(draft, office).passed
    approving.approve(draft, approver, dict(ATTESTATIONS))
    media.tracks.all().delete()  # as if the engine had found none of the faces
    with pytest.raises(publishing.PublishRefused) as refused:
        publishing.publish(draft, approver)
    assert "a second face detector sees a face" in str(refused.value)
