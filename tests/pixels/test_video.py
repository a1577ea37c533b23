"""Faces in videos: every face track found and identified, and bad videos refused clearly."""

import datetime
import functools
import io
import json
import shutil
import struct
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from config.school import crypto
from consent import faces
from consent.models import BiometricConsent, FaceEncoding, PhotoConsent, Pupil
from moderation.approval import services as approving
from moderation.drafts import services as drafting
from moderation.gates import pipeline
from moderation.publishing import services as publishing
from pixels import detection, labelled, photos, recognition, video

TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "testdata"
CLIP = TESTDATA / "video" / "short_hamilton_clip.mp4"
pytestmark = pytest.mark.skipif(not CLIP.exists(), reason="../shared/testdata is not beside the project")


@functools.cache
def lin_encoding():
    image = photos.load_image(TESTDATA / "faces" / "enrol" / "lin_manuel_miranda" / "lin-manuel-miranda.png")
    [box] = detection.detect_faces(image)
    return recognition.encode(image, box)


@pytest.fixture
def lin(db):
    pupil = Pupil.objects.create(upn="A300000000001", legal_forename="Lin", legal_surname="Miranda", year_group="Year 6")
    PhotoConsent.objects.create(pupil=pupil, channel_kind="youtube", given=True, given_on=datetime.date(2026, 9, 1), form_reference="Form 7")
    BiometricConsent.objects.create(pupil=pupil, parent_consent=True, given_on=datetime.date(2026, 9, 1))
    FaceEncoding.objects.create(pupil=pupil, encrypted=crypto.encrypt_encoding(lin_encoding()), model=recognition.MODEL_ID, source_sha256="0" * 64)
    return pupil


write_video = labelled.write_video


def turn_in_display_matrix(path, clockwise=True):
    """Set the MP4 track's display matrix, as a phone does when it films on its side."""
    data = bytearray(Path(path).read_bytes())
    i = data.index(b"tkhd")
    fixed = 4 + 4 + (32 if data[i + 4] == 1 else 20) + 8 + 8
    matrix = [0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000] if clockwise else [0, -0x10000, 0, 0x10000, 0, 0, 0, 0, 0x40000000]
    data[i + fixed:i + fixed + 36] = struct.pack(">9i", *matrix)
    Path(path).write_bytes(bytes(data))


def two_people(size=(640, 376)):
    with Image.open(TESTDATA / "faces" / "posts" / "two_people.jpg") as image:
        return image.convert("RGB").resize(size)


# --- Tracks -----------------------------------------------------------------------------------


@functools.cache
def clip_report():
    """The labelled clip analysed with an empty register (who is who is tested apart)."""
    return video.analyse(CLIP, recognition.Gallery([], [], np.zeros((0, 128)), []))


def clip_coverage():
    tracks = [[[v.time, *v.face.box] for v in t.views] for t in clip_report().tracks]
    return labelled.coverage(tracks, labelled.video_faces())


def test_the_clip_is_searched_six_times_a_second():
    report = clip_report()
    assert report.info.width == 640 and report.info.height == 360 and report.every == 5 and report.samples == 55


def test_every_face_labelled_by_eye_in_the_clip_is_followed_where_it_is_seen():
    # The faces a viewer can tell are there, whatever their pose; each labelled sighting must lie
    # within a track (the tracks are what is blurred), but for a face first half hidden behind a head.
    covered, _ = clip_coverage()
    shares = {c.face.id: c.share for c in covered if not c.face.doubtful}
    assert len(shares) == 12
    assert all(share == 1.0 for face, share in shares.items() if face != "audience-bg2"), shares
    assert shares["audience-bg2"] >= 0.65


def test_a_face_in_profile_is_followed_through_the_video():
    covered, _ = clip_coverage()
    (profile,) = [c for c in covered if c.face.pose == "profile"]
    assert profile.share == 1.0


def test_faces_turned_three_quarters_in_the_audience_are_followed():
    covered, _ = clip_coverage()
    turned = [c for c in covered if c.face.pose == "three-quarter" and not c.face.doubtful]
    assert len(turned) >= 6 and all(c.share == 1.0 for c in turned), [(c.face.id, c.share) for c in turned]


def test_a_track_ends_at_a_cut_so_faces_of_two_shots_are_never_one_track():
    cuts = [0.667, 2.736, 7.04]  # labels.json: the clip's shots
    for track in clip_report().tracks:
        assert not any(track.start < cut <= track.end for cut in cuts), (track.start, track.end)


def test_the_enrolled_pupil_is_identified_in_his_tracks(lin):
    report = video.analyse(CLIP, faces.Register.load("youtube"))
    performer = [t for t in report.tracks if t.match.pupil == lin]
    assert any(t.start <= 3.0 and t.end >= 6.8 and t.match.status == "consented" for t in performer), [(t.start, t.end) for t in performer]
    assert all(t.match.status in ("consented", "uncertain") for t in performer)
    others = [t for t in report.tracks if t not in performer]
    assert others and all(t.match.status in ("unknown", "uncertain") for t in others)


def test_a_track_that_strays_onto_another_face_is_not_identified_without_a_person(lin, tmp_path):
    # Lin's face for a second, then a stranger's face pasted where his was: the picture around
    # it does not change, so it is no cut, and one track follows both faces.
    lin_photo = Image.new("RGB", (1280, 720), (90, 90, 90))
    with Image.open(TESTDATA / "faces" / "enrol" / "lin_manuel_miranda" / "lin-manuel-miranda.png") as image:
        lin_photo.paste(image.convert("RGB").resize((320, 320)), (480, 200))
    (face,) = detection.detect_faces(lin_photo)
    stranger_photo = photos.load_image(TESTDATA / "faces" / "enrol" / "biden" / "biden.jpg")
    (theirs,) = detection.detect_faces(stranger_photo)
    swapped = lin_photo.copy()
    # A little smaller than Lin's, so that his views are the track's largest, the ones matched first.
    width, height = round(face.width * 0.9), round(face.height * 0.9)
    swapped.paste(stranger_photo.crop((theirs.left, theirs.top, theirs.right, theirs.bottom)).resize((width, height)),
                  (face.left + (face.width - width) // 2, face.top + (face.height - height) // 2))
    register = faces.Register.load("youtube")
    alone = video.analyse(labelled.write_video(tmp_path / "lin.mp4", [lin_photo] * 24, rate=10), register)
    assert [t.match.status for t in alone.tracks] == ["consented"]  # Lin throughout: passed
    path = labelled.write_video(tmp_path / "swap.mp4", [lin_photo] * 12 + [swapped] * 12, rate=10)
    (joined,) = [t for t in video.analyse(path, register).tracks if t.start < 1.0 and t.end > 1.3]
    assert joined.match.status == "uncertain"  # Lin for its first second only: a person decides


def test_a_face_on_screen_for_half_a_second_is_found_as_one_track_with_its_time_span(db, tmp_path):
    still = two_people()
    blank = Image.new("RGB", still.size, (90, 90, 90))
    path = write_video(tmp_path / "wave.mp4", [blank] * 10 + [still] * 5 + [blank] * 10, rate=10)  # faces for 0.5 s
    report = video.analyse(path, faces.Register.load("facebook"))
    assert len(report.tracks) == 2
    for track in report.tracks:
        assert 0.9 <= track.start <= 1.1 and 1.3 <= track.end <= 1.5, (track.start, track.end)


def test_a_rotated_phone_video_is_turned_upright_before_detection(db, tmp_path):
    sideways = two_people().rotate(90, expand=True)  # as the phone's sensor stored it
    path = write_video(tmp_path / "phone.mp4", [sideways] * 8)
    turn_in_display_matrix(path)
    info = video.inspect(path)
    assert (info.width, info.height, info.rotation) == (640, 376, 270)
    upright_faces = [f.box for f in detection.detect_faces(two_people())]
    tracks = video.analyse(path, faces.Register.load("facebook")).tracks
    assert labelled.found_truth(upright_faces, [t.best.face.box for t in tracks])[0] == 2


def test_a_variable_frame_rate_video_keeps_each_frames_own_time(db, tmp_path):
    still = two_people()
    blank = Image.new("RGB", still.size, (90, 90, 90))
    times = [0.0, 0.05, 0.5, 0.6, 1.9, 2.0, 2.05, 2.1, 2.5, 3.9, 4.0]
    frames = [blank] * 4 + [still] * 5 + [blank] * 2
    report = video.analyse(write_video(tmp_path / "vfr.mp4", frames, rate=10, times=times), faces.Register.load("facebook"))
    assert report.tracks and all(1.8 <= t.start <= 2.1 and t.end <= 2.6 for t in report.tracks), [(t.start, t.end) for t in report.tracks]


# --- Bad input --------------------------------------------------------------------------------


def audio_only(path):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate, frame.pts = 44100, 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def no_frames(path):
    """A well-formed MP4 whose every frame is noise to the decoder."""
    write_video(path, [Image.new("RGB", (64, 48), (i * 20, 0, 0)) for i in range(10)])
    data = bytearray(Path(path).read_bytes())
    start = data.index(b"mdat") + 4
    size = struct.unpack(">I", data[start - 8:start - 4])[0] - 8
    data[start:start + size] = b"\x00" * size
    Path(path).write_bytes(bytes(data))
    return path


def truncated(path):
    shutil.copy(CLIP, path)
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 2])
    return path


def photo_renamed(path):
    Image.new("RGB", (64, 48), "red").save(path, "JPEG")
    return path


@pytest.mark.parametrize("name, make, message", [
    ("song.mp4", audio_only, "has no video in it"),
    ("nothing.mp4", no_frames, "be decoded"),
    ("cut.mp4", truncated, "is not a video that can be read"),
    ("photo.mp4", photo_renamed, "is not an MP4, MOV or WebM video"),
    ("empty.mp4", lambda p: (p.write_bytes(b""), p)[1], "is empty"),
])
def test_a_bad_video_is_refused_naming_the_file_and_what_is_wrong(db, tmp_path, name, make, message):
    path = make(tmp_path / name)
    with pytest.raises(video.VideoRejected) as refused:
        video.analyse(path, faces.Register.load("youtube"))
    assert f"'{name}'" in str(refused.value) and message in str(refused.value)


@pytest.mark.parametrize("name, make, message", [
    ("song.mp4", audio_only, "has no video in it"),
    ("nothing.mp4", no_frames, "be decoded"),
    ("cut.mp4", truncated, "is not a photo or video that can be read"),
    ("photo.mp4", photo_renamed, "is named as a MP4 file but its content is a JPEG image"),
])
def test_a_bad_video_is_refused_at_upload_and_the_draft_keeps_what_it_had(office, facebook, tmp_path, settings, name, make, message):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from moderation.drafts.media import MediaRejected
    from tests.conftest import link_draft

    draft = link_draft(office, facebook)
    with pytest.raises(MediaRejected) as refused:
        drafting.add_media(draft, office, SimpleUploadedFile(name, make(tmp_path / name).read_bytes()), source="Mrs Patel", rights="school")
    assert f"'{name}'" in str(refused.value) and message in str(refused.value)
    assert not draft.media.exists() and not any(settings.UPLOAD_DIR.iterdir())


def test_a_video_over_the_limits_is_refused_with_the_limit(db, settings):
    settings.VIDEO_MAX_SECONDS = 5
    with pytest.raises(video.VideoRejected, match=r"lasts 10 s: more than the 5 s allowed"):
        video.inspect(CLIP)
    settings.VIDEO_MAX_SECONDS = 600
    settings.VIDEO_MAX_PIXELS = 640 * 300
    with pytest.raises(video.VideoRejected, match=r"is 640×360: more than"):
        video.inspect(CLIP)


# --- check_media --------------------------------------------------------------------------------


def test_check_media_reports_each_track_of_a_video_with_its_time_span(lin):
    out = io.StringIO()
    try:
        call_command("check_media", "--channel", "youtube", "--json", str(CLIP), stdout=out)
        code = 0
    except SystemExit as stop:
        code = stop.code
    report = json.loads(out.getvalue())
    assert code == 1 and report["verdict"] == "fail"  # the second performer is unknown
    [entry] = report["files"]
    assert entry["error"] is None and entry["metadata"] == []
    for face in entry["faces"]:
        assert set(face) == {"box", "status", "upn", "distance", "start", "end"}
        assert 0 <= face["start"] <= face["end"] <= 10.1
    assert any(f["upn"] == "A300000000001" for f in entry["faces"])


# --- A video on a draft ---------------------------------------------------------------------------


@pytest.fixture
def clip_draft(lin, office, youtube):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import link_draft

    draft = link_draft(office, youtube, link="", title="Our summer show", text="Highlights of the summer show.")
    drafting.add_media(draft, office, SimpleUploadedFile("show.mp4", CLIP.read_bytes()), source="Mrs Patel, school camera", rights="school")
    return draft


def test_each_face_track_of_a_video_is_a_row_for_the_people_deciding(clip_draft, office, client):
    media = clip_draft.media.get()
    assert media.analysis == "done" and media.faces_found_at is not None
    tracks = list(media.tracks.all())
    assert len(tracks) >= 2 and all(t.end >= t.start for t in tracks)
    client.force_login(office)
    page = client.get(f"/drafts/{clip_draft.pk}/").content.decode()
    assert page.count("<tr data-track=") == len(tracks)
    assert "followed through the video" in page
    view = client.get(f"/drafts/{clip_draft.pk}/tracks/{tracks[0].pk}/view/")
    assert view.status_code == 200 and view["Content-Type"] == "image/jpeg"


def mark_and_blur_what_only_the_second_detector_sees(media, by):
    """What a person does with each face the second detector sees where no track is (in the
    clip, a striped collar at 8 s): mark it on its frame, then blur it."""
    from moderation.approval import video_review
    from moderation.publishing import video_copies

    video_copies.run_pending()  # the worker makes the published copy, and the second detector looks at it
    media.refresh_from_db()
    for sighting in video_copies.unfollowed(media):
        track = video_review.mark_track(media, sighting.time, sighting.face.box, by)
        video_review.set_blur(track, True, by)
    video_copies.run_pending()


def test_an_unknown_face_in_a_video_is_for_the_reviewer_until_it_is_blurred(clip_draft, office):
    from moderation.approval import video_review

    run = pipeline.run_gates(clip_draft, "submit", office)
    result = run.results.get(gate_id="image-consent")
    assert result.status == "waiting" and "show.mp4, face" in result.message
    media = clip_draft.media.get()
    for track in media.tracks.exclude(auto_status="consented"):
        video_review.set_blur(track, True, office)
    mark_and_blur_what_only_the_second_detector_sees(media, office)
    result = pipeline.run_gates(clip_draft, "submit", office).results.get(gate_id="image-consent")
    assert result.status == "pass", result.message


def test_a_videos_metadata_is_checked_in_the_copy_that_would_be_published(clip_draft, office):
    result = pipeline.run_gates(clip_draft, "submit", office).results.get(gate_id="no-location-metadata")
    assert result.status == "pass" and "verified in every segment of the published bytes" in result.message


def test_a_reviewer_can_say_who_a_face_track_is(clip_draft, office, approver, lin):
    from moderation.approval import video_review
    from moderation.models import Draft

    # A draft with a video cannot reach the approver yet (the video's metadata and words are not
    # checked: those gates fail closed), so the test puts it there directly.
    Draft.objects.filter(pk=clip_draft.pk).update(status="awaiting_approval")
    clip_draft.refresh_from_db()
    track = clip_draft.media.get().tracks.first()
    video_review.identify(track, lin, approver)
    track.refresh_from_db()
    assert track.identified_pupil == lin and track.identified_by == approver
    assert clip_draft.audit_entries.filter(action="tracks.identified").exists()


# --- The published copy of a video ----------------------------------------------------------------


def phone_video(path):
    """A MOV as a phone writes it: where it was filmed, on what, with which software."""
    still = two_people()
    with av.open(str(path), "w", format="mov", options={"movflags": "use_metadata_tags"}) as container:
        container.metadata.update({
            "location": "+51.5074-000.1278/", "com.apple.quicktime.make": "Apple",
            "com.apple.quicktime.model": "iPhone 15", "com.apple.quicktime.software": "17.1",
        })
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = still.width, still.height, "yuv420p"
        for _ in range(10):
            for packet in stream.encode(av.VideoFrame.from_image(still)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_a_phone_videos_location_device_and_software_are_named_and_not_copied(tmp_path):
    from pixels import video_copy

    original = phone_video(tmp_path / "IMG_0001.mov")
    assert video.metadata_names(original) == ["GPS", "device", "software"]
    copy = video_copy.remux(original, tmp_path / "copy.mp4")
    assert video.metadata_names(copy) == []
    with av.open(str(copy)) as container:
        assert container.streams.video[0].frames == 10


def test_a_blurred_face_is_pixelated_in_every_frame_of_its_track_and_the_sound_is_kept(lin, tmp_path):
    from pixels import video_copy

    report = video.analyse(CLIP, faces.Register.load("youtube"))
    performer = max(report.tracks, key=lambda t: t.end - t.start)
    assert performer.match.status == "consented"  # Lin, recognised before the blur
    copy = video_copy.blurred(CLIP, [[[v.time, *v.face.box] for v in performer.views]], tmp_path / "blurred.mp4")
    with av.open(str(copy)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        assert container.streams.video[0].frames == report.info.frames
    # Where the face was, a few flat blocks: nothing of the face's detail, and nobody to recognise.
    detail = lambda image, box: float(np.abs(np.diff(np.asarray(image.convert("L").crop((box[3], box[0], box[1], box[2])), dtype=float), axis=1)).mean())  # noqa: E731
    original, published = dict(second_frames(CLIP)), dict(second_frames(copy))
    for view in performer.views[1:-1]:
        when = min(original, key=lambda t: abs(t - view.time))
        assert detail(published[when], view.face.box) < detail(original[when], view.face.box) / 2, view.time
    after = video.analyse(copy, faces.Register.load("youtube"))
    assert not any(t.match.status == "consented" for t in after.tracks)
    assert video.metadata_names(copy) == []


def second_frames(path):
    """(time from the first frame, upright frame) of every frame of a video."""
    with av.open(str(path)) as container:
        first = None
        for frame in container.decode(video=0):
            first = float(frame.time) if first is None else first
            yield round(float(frame.time) - first, 3), video.upright(frame).convert("RGB")


def test_between_sightings_the_blur_follows_the_face_in_a_straight_line():
    from pixels.video_copy import box_at

    sightings = [[1.0, 10, 50, 50, 10], [2.0, 30, 70, 70, 30]]
    assert box_at(sightings, 1.5) == (20, 60, 60, 20)
    assert box_at(sightings, 0.8) == (10, 50, 50, 10)  # a little before it was first seen
    assert box_at(sightings, 0.5) is None and box_at(sightings, 2.5) is None


def captioned_video(path, caption="Questions? Ring 01632 960123", seconds=3, rate=10):
    from PIL import ImageDraw, ImageFont

    frame = Image.new("RGB", (960, 540), (30, 60, 90))
    ImageDraw.Draw(frame).text((60, 420), caption, font=ImageFont.load_default(size=44), fill="white")
    return write_video(path, [frame] * (seconds * rate), rate=rate)


def test_a_phone_number_shown_in_a_video_fails_until_those_words_are_blurred(db, office, approver, youtube, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from moderation.approval import face_review
    from moderation.approval.attestations import ATTESTATIONS
    from pixels import ocr
    from tests.conftest import link_draft

    draft = link_draft(office, youtube, link="", title="Open evening", text="Come to our open evening.")
    path = captioned_video(tmp_path / "invite.mp4")
    media = drafting.add_media(draft, office, SimpleUploadedFile("invite.mp4", path.read_bytes()), source="Mrs Patel", rights="school",
                               alt_text="An invitation to our open evening")
    result = pipeline.run_gates(draft, "submit", office).results.get(gate_id="no-personal-data")
    assert result.status == "fail" and "01632 960123" in result.message and "'invite.mp4', on screen at 0:00.0" in result.message

    for words in media.words.filter(text__contains="01632"):
        face_review.set_words_blur(words, True, office)
    run = drafting.submit(draft, office)
    assert run.passed, [(r.gate_id, r.message) for r in pipeline.failures(run)]
    approving.approve(draft, approver, dict(ATTESTATIONS))
    post = publishing.publish(draft, approver)
    [copy] = post.media.all()
    assert copy.content_type == "video/mp4" and video.metadata_names(copy.path) == []
    with av.open(str(copy.path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % 10 == 0:  # a frame each second
                assert not any("01632" in line.text for line in ocr.read(video.upright(frame))), index


def test_a_phone_number_left_readable_by_a_blur_that_misses_it_is_caught_in_the_published_video(db, office, youtube, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from moderation.approval import face_review
    from moderation.models import MediaText
    from moderation.publishing import video_copies
    from tests.conftest import link_draft

    draft = link_draft(office, youtube, link="", title="Open evening", text="Come to our open evening.")
    from PIL import ImageDraw, ImageFont

    plain = Image.new("RGB", (960, 540), (30, 60, 90))
    captioned = plain.copy()
    ImageDraw.Draw(captioned).text((60, 420), "Ring 01632 960123 for a place", font=ImageFont.load_default(size=44), fill="white")
    # The number is on screen for the first second only: not in the thumbnail (a third of the way in).
    path = write_video(tmp_path / "invite.mp4", [captioned] * 10 + [plain] * 20, rate=10)
    media = drafting.add_media(draft, office, SimpleUploadedFile("invite.mp4", path.read_bytes()), source="Mrs Patel", rights="school",
                               alt_text="An invitation to our open evening")
    for words in media.words.filter(text__contains="01632"):
        face_review.set_words_blur(words, True, office)
        # The blur covers only the start of "Ring" (with its margin): the number stays readable in the published video.
        MediaText.objects.filter(pk=words.pk).update(right=words.left + (words.right - words.left) * 5 // 100)
    video_copies.request(media)
    video_copies.run_pending()  # the worker makes the copy the approver watches, and reads it
    media.refresh_from_db()
    assert media.copy_words and any("01632" in w[1] for w in media.copy_words)
    result = pipeline.run_gates(draft, "submit", office).results.get(gate_id="no-personal-data")
    assert result.status == "fail" and "readable in its published copy at 0:0" in result.message, result.message


# --- The thumbnail ----------------------------------------------------------------------------------


def flash_video(path, flash):
    """One second of an empty stage at 10 frames a second, with `flash` on frame 5 only: between
    two of the engine's samples."""
    blank = Image.new("RGB", (640, 376), (90, 90, 90))
    return write_video(path, [flash if i == 5 else blank for i in range(10)], rate=10)


def video_draft(office, youtube, path, name):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import link_draft

    draft = link_draft(office, youtube, link="", title="Our stage", text="Our stage is ready.")
    media = drafting.add_media(draft, office, SimpleUploadedFile(name, Path(path).read_bytes()), source="Mrs Patel",
                               rights="school", alt_text="The empty stage")
    return draft, media


def test_the_thumbnail_is_checked_as_a_photo_for_faces_that_were_not_followed(db, office, youtube, tmp_path):
    from moderation.approval import video_review
    from moderation.publishing import video_copies

    draft, media = video_draft(office, youtube, flash_video(tmp_path / "stage.mp4", two_people()), "stage.mp4")
    assert media.tracks.count() == 0  # the faces are on screen for a tenth of a second, between samples
    # The second detector, looking at the published copy every half second, catches them.
    video_copies.run_pending()
    first = pipeline.run_gates(draft, "submit", office).results.get(gate_id="image-consent")
    assert first.status == "fail" and "a second face detector sees a face at 0:00.5" in first.message
    video_review.set_thumbnail(media, 0.5, office)
    result = pipeline.run_gates(draft, "submit", office).results.get(gate_id="image-consent")
    assert result.status == "fail" and "its thumbnail (the frame at 0:00.5) shows a face that was not followed" in result.message


def test_the_words_in_the_thumbnail_are_checked_for_personal_data(db, office, youtube, tmp_path):
    from PIL import ImageDraw, ImageFont

    from moderation.approval import video_review

    card = Image.new("RGB", (640, 376), (30, 60, 90))
    ImageDraw.Draw(card).text((40, 300), "Ring 01632 960123", font=ImageFont.load_default(size=40), fill="white")
    draft, media = video_draft(office, youtube, flash_video(tmp_path / "card.mp4", card), "card.mp4")
    video_review.set_thumbnail(media, 0.5, office)
    result = pipeline.run_gates(draft, "submit", office).results.get(gate_id="no-personal-data")
    assert result.status == "fail" and "the thumbnail of 'card.mp4'" in result.message and "01632 960123" in result.message


def test_the_author_chooses_the_thumbnail_frame_within_the_video(db, office, youtube, tmp_path, client):
    from moderation.models import MediaFile

    draft, media = video_draft(office, youtube, flash_video(tmp_path / "stage.mp4", Image.new("RGB", (640, 376), "red")), "stage.mp4")
    client.force_login(office)
    client.post(f"/drafts/{draft.pk}/media/{media.pk}/thumbnail/choose/", {"seconds": "0.5"})
    assert MediaFile.objects.get(pk=media.pk).thumbnail_time == 0.5
    page = client.post(f"/drafts/{draft.pk}/media/{media.pk}/thumbnail/choose/", {"seconds": "99"}, follow=True).content.decode()
    assert "Choose a time between 0 and 1.0 seconds." in page and MediaFile.objects.get(pk=media.pk).thumbnail_time == 0.5
    picture = client.get(f"/drafts/{draft.pk}/media/{media.pk}/thumbnail/")
    assert picture["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(picture.content)).convert("RGB").getpixel((10, 10))[0] > 200  # the red frame


def test_the_published_thumbnail_goes_with_the_video_without_metadata(db, office, approver, youtube, tmp_path, settings):
    from moderation.approval.attestations import ATTESTATIONS

    draft, media = video_draft(office, youtube, flash_video(tmp_path / "stage.mp4", Image.new("RGB", (640, 376), "red")), "stage.mp4")
    assert drafting.submit(draft, office).passed
    approving.approve(draft, approver, dict(ATTESTATIONS))
    publishing.publish(draft, approver)
    [post_json] = list(settings.OUTBOX_DIR.rglob("post.json"))
    [entry] = json.loads(post_json.read_text())["media"]
    thumbnail = post_json.parent / entry["thumbnail"]
    assert photos.metadata_names(thumbnail) == [] and Image.open(thumbnail).format == "JPEG"


def test_a_small_file_declaring_a_huge_picture_is_refused_before_any_frame_is_decoded(db, tmp_path, monkeypatch):
    import av as pyav

    path = tmp_path / "huge.mp4"
    with pyav.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=1)
        stream.width = stream.height = 8192
        stream.pix_fmt, stream.options = "yuv420p", {"preset": "ultrafast"}
        frame = pyav.VideoFrame(8192, 8192, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for packet in list(stream.encode(frame)) + list(stream.encode()):
            out.mux(packet)
    assert path.stat().st_size < 400_000
    decoded = []
    original_decode = pyav.container.InputContainer.decode
    monkeypatch.setattr(pyav.container.InputContainer, "decode", lambda self, *a, **k: decoded.append(1) or original_decode(self, *a, **k))
    with pytest.raises(video.VideoRejected, match="8192×8192: more than the"):
        video.inspect(path)
    assert decoded == []


def test_a_faces_view_is_kept_encrypted_with_the_face_key(clip_draft, office, client):
    track = clip_draft.media.get().tracks.first()
    stored = bytes(track.view)
    assert not stored.startswith(b"\xff\xd8") and crypto.decrypt_picture(stored).startswith(b"\xff\xd8")
    client.force_login(office)
    view = client.get(f"/drafts/{clip_draft.pk}/tracks/{track.pk}/view/")
    assert view.status_code == 200 and view.content == crypto.decrypt_picture(stored)


def test_the_faces_kept_for_review_are_deleted_with_the_originals_when_the_draft_is_withdrawn(clip_draft, office, client):
    media = clip_draft.media.get()
    drafting.withdraw(clip_draft, office)
    assert not media.path.exists()
    assert all(bytes(t.view) == b"" for t in media.tracks.all())
    client.force_login(office)
    assert client.get(f"/drafts/{clip_draft.pk}/tracks/{media.tracks.first().pk}/view/").status_code == 404
