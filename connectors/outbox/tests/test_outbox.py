"""The local outbox publishes into a folder, as a platform would, and never twice."""

import json

import pytest
from PIL import Image

from connectors.base import ConnectorError, OutgoingMedia, OutgoingPost
from connectors.outbox import OutboxConnector


def post(media=(), **overrides):
    fields = dict(
        draft_id=7, content_hash="ab" * 32, channel_name="School Page", channel_kind="facebook", account_id="123",
        privacy="private", text="", title="", link="https://www.aycliffe.kent.sch.uk/", publish_at=None, media=tuple(media),
    )
    return OutgoingPost(**{**fields, **overrides})


def test_a_post_is_written_with_its_media_and_gets_an_id(tmp_path):
    image = tmp_path / "source.png"
    Image.new("RGB", (10, 10)).save(image)
    outbox = OutboxConnector(tmp_path / "outbox")
    result = outbox.publish(post(media=[OutgoingMedia("image", image, "image/png", "A painting")]))
    folder = tmp_path / "outbox" / result.platform_post_id
    record = json.loads((folder / "post.json").read_text())
    assert record["link"] == "https://www.aycliffe.kent.sch.uk/"
    assert record["media"] == [{"file": "01.png", "kind": "image", "content_type": "image/png", "alt_text": "A painting"}]
    assert (folder / "01.png").read_bytes() == image.read_bytes()


def test_publishing_the_same_content_twice_returns_the_same_post(tmp_path):
    outbox = OutboxConnector(tmp_path)
    first, second = outbox.publish(post()), outbox.publish(post())
    assert first == second
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 1


def test_an_outbox_that_cannot_be_written_says_so_and_leaves_nothing_behind(tmp_path):
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(ConnectorError, match="could not be written"):
        OutboxConnector(blocker).publish(post())


def test_a_missing_media_file_fails_the_post_without_a_half_written_folder(tmp_path):
    outbox = OutboxConnector(tmp_path / "outbox")
    with pytest.raises(ConnectorError):
        outbox.publish(post(media=[OutgoingMedia("image", tmp_path / "gone.png", "image/png", "")]))
    assert list((tmp_path / "outbox").iterdir()) == []


def test_comments_left_beside_a_post_are_read_as_a_platform_reports_them(tmp_path):
    outbox = OutboxConnector(tmp_path)
    result = outbox.publish(post())
    (outbox.folder(result.platform_post_id) / "comments.json").write_text(json.dumps([
        {"id": "c1", "author": "A parent", "text": "Lovely!", "created_at": "2026-11-25T10:00:00+00:00"},
        {"id": "c2", "author": "Another parent", "text": "Thank you", "parent_id": "c1"},
    ]))
    comments = list(outbox.comments(result.platform_post_id))
    assert [(c.comment_id, c.author, c.text, c.parent_id) for c in comments] == [
        ("c1", "A parent", "Lovely!", ""), ("c2", "Another parent", "Thank you", "c1")]
    assert comments[0].created_at.year == 2026 and comments[1].created_at is None


def test_a_post_without_comments_has_none_and_unreadable_comments_say_so(tmp_path):
    outbox = OutboxConnector(tmp_path)
    result = outbox.publish(post())
    assert list(outbox.comments(result.platform_post_id)) == []
    (outbox.folder(result.platform_post_id) / "comments.json").write_text("not json")
    with pytest.raises(ConnectorError, match="could not be read"):
        list(outbox.comments(result.platform_post_id))


def test_a_post_taken_down_loses_its_folder_and_a_second_takedown_is_harmless(tmp_path):
    outbox = OutboxConnector(tmp_path)
    result = outbox.publish(post())
    outbox.delete(result.platform_post_id)
    assert not outbox.folder(result.platform_post_id).exists()
    outbox.delete(result.platform_post_id)
    with pytest.raises(ConnectorError, match="not a post of the outbox"):
        outbox.delete("../elsewhere")
