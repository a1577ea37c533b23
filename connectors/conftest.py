"""Fixtures for the connector tests: the emulators, and channels connected to them."""

import io

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from connectors import services as connections
from connectors.emulators.graph import GraphEmulator
from connectors.emulators.youtube import YouTubeEmulator
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.gates import pipeline
from tests.conftest import *  # noqa: F401,F403 - the users, channels and data folders of the main suite
from tests.conftest import link_draft


@pytest.fixture
def graph(settings):
    with GraphEmulator() as emulator:
        settings.FACEBOOK_GRAPH_URL = emulator.url
        settings.CONNECTOR_TIMEOUT = 3
        yield emulator


@pytest.fixture
def youtube_api(settings):
    with YouTubeEmulator() as emulator:
        settings.YOUTUBE_API_URL = emulator.url
        settings.GOOGLE_TOKEN_URI = emulator.token_uri
        settings.CONNECTOR_TIMEOUT = 3
        settings.YOUTUBE_UPLOAD_CHUNK_BYTES = 256 * 1024
        yield emulator


@pytest.fixture
def page(graph, facebook, head):
    """The school's Facebook channel, connected to the emulated Page."""
    connections.save_connection(
        facebook, platform="facebook", account_id=graph.page_id, account_name=graph.page_name,
        credentials={"page_token": "page-token", "app_id": graph.app_id, "user_token": "user-token"}, by=head,
    )
    facebook.refresh_from_db()
    return facebook


@pytest.fixture
def channel(youtube_api, youtube, head):
    """The school's YouTube channel, connected to the emulated one."""
    connections.save_connection(
        youtube, platform="youtube", account_id=youtube_api.channel_id, account_name=youtube_api.channel_title,
        credentials=youtube_api.authorized_user_info(), by=head,
    )
    youtube.refresh_from_db()
    return youtube


def landscape_png(seed=0, size=(96, 64)) -> bytes:
    """A picture with no face and no words."""
    rng = np.random.default_rng(seed)
    pixels = np.repeat(np.repeat(rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8), 8, 0), 8, 1)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def noise_video(path, seconds=2, size=(320, 240), rate=10, bit_rate=6_000_000):
    """An H.264 MP4 (as phones record) with no face and no words, large enough to take several
    upload chunks. H.264 is copied into the published copy as it is, so the copy sent is about this size."""
    rng = np.random.default_rng(1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = size[0], size[1], "yuv420p", bit_rate
        for _ in range(seconds * rate):
            block = rng.integers(0, 255, (size[1] // 4, size[0] // 4, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(np.repeat(np.repeat(block, 4, 0), 4, 1), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def approve(draft, author, approver):
    run = drafting.submit(draft, author)
    assert run.passed, [(r.gate_id, r.message) for r in pipeline.failures(run)]
    approving.approve(draft, approver, dict(ATTESTATIONS))
    draft.refresh_from_db()
    return draft


def photo_draft(author, channel, photos=2, text="Our Year 4 river project: the model of the Stour."):
    draft = link_draft(author, channel, link="", text=text)
    for index in range(photos):
        drafting.add_media(draft, author, SimpleUploadedFile(f"river-{index}.png", landscape_png(index)), source="Mrs Patel",
                           rights="school", alt_text=f"Model river, part {index + 1}")
    return draft


def video_draft(author, channel, tmp_path, text="Our harvest assembly, for families who could not come."):
    draft = link_draft(author, channel, link="", text=text, title="Harvest assembly")
    path = noise_video(tmp_path / "assembly.mp4")
    drafting.add_media(draft, author, SimpleUploadedFile("assembly.mp4", path.read_bytes()), source="Mrs Patel",
                       rights="school", alt_text="The harvest assembly")
    return draft
