"""A post each platform can carry: the author learns it when adding a file, not at publishing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from connectors.conftest import landscape_png, noise_video
from moderation.drafts import services as drafting
from moderation.drafts.media import MediaRejected
from moderation.gates import pipeline
from tests.conftest import link_draft


def add(draft, office, name, data):
    return drafting.add_media(draft, office, SimpleUploadedFile(name, data), source="Mrs Patel", rights="school", alt_text="A field")


def test_a_photo_cannot_be_added_to_a_youtube_draft(office, youtube, settings):
    draft = link_draft(office, youtube, link="", title="Sports day")
    with pytest.raises(MediaRejected, match="'field.png' was not added: A YouTube post is one video"):
        add(draft, office, "field.png", landscape_png())
    assert draft.media.count() == 0 and not any(settings.UPLOAD_DIR.glob("*"))


def test_a_facebook_draft_with_photos_cannot_also_take_a_video(office, facebook, tmp_path):
    draft = link_draft(office, facebook, link="", text="Sports day")
    add(draft, office, "field.png", landscape_png())
    with pytest.raises(MediaRejected, match="photos or one video, not both"):
        add(draft, office, "race.mp4", noise_video(tmp_path / "race.mp4", seconds=1).read_bytes())
    assert list(draft.media.values_list("kind", flat=True)) == ["image"]


def test_a_youtube_draft_without_its_video_fails_official_channel(office, youtube):
    draft = link_draft(office, youtube, link="", title="Sports day", text="Highlights of sports day.")
    result = drafting.submit(draft, office).results.get(gate_id="official-channel")
    assert result.status == "fail" and "A YouTube post is one video: add it." in result.message


def test_the_channel_page_does_not_count_a_missing_video_against_the_channel(youtube):
    assert pipeline.channel_problems(youtube) == []
