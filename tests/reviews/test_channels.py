"""Channel records: the headteacher approves them, and an incomplete or overdue one blocks every draft."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from config.school.models import School
from connectors.models import Channel
from moderation.drafts import services as drafting
from moderation.gates import pipeline
from moderation.models import Draft, RiskAssessment
from moderation.reviews import services as reviews
from tests.conftest import age_risk_assessment, link_draft


@pytest.mark.parametrize("who", ["office", "approver", "dsl"])
def test_a_non_headteacher_cannot_approve_a_channel(request, who, facebook):
    user = request.getfixturevalue(who)
    before = RiskAssessment.objects.count()
    with pytest.raises(PermissionDenied, match="headteacher"):
        reviews.approve_risk_assessment(facebook, user, summary="Looks fine.")
    assert RiskAssessment.objects.count() == before


def test_a_non_headteacher_cannot_approve_a_channel_through_the_page(client, dsl, facebook):
    client.force_login(dsl)
    response = client.post(f"/channels/{facebook.pk}/risk-assessment/", {"summary": "ok", "confirm": "on"})
    assert response.status_code == 403
    assert facebook.risk_assessments.count() == 1


def test_the_headteacher_approves_a_risk_assessment_through_the_page(client, head, facebook):
    client.force_login(head)
    response = client.post(f"/channels/{facebook.pk}/risk-assessment/", {"summary": "Reviewed again.", "confirm": "on"})
    assert response.status_code == 302
    assert facebook.current_risk_assessment.summary == "Reviewed again."
    assert facebook.audit_entries.filter(action="channel.risk_assessment_approved").count() == 2


def test_a_channel_without_a_risk_assessment_blocks_every_draft(office, facebook):
    RiskAssessment.objects.filter(channel=facebook).delete()
    run = drafting.submit(link_draft(office, facebook), office)
    result = run.results.get(gate_id="channel-risk-assessed")
    assert result.status == "fail"
    assert "headteacher must record and approve" in result.message


def test_an_overdue_risk_assessment_blocks_every_draft_and_says_what_to_do(office, facebook):
    age_risk_assessment(facebook, days=366)
    run = drafting.submit(link_draft(office, facebook), office)
    result = run.results.get(gate_id="channel-risk-assessed")
    assert result.status == "fail"
    assert "expired" in result.message and "approve it again" in result.message


def test_a_risk_assessment_is_valid_for_twelve_months(office, facebook):
    age_risk_assessment(facebook, days=360)
    run = drafting.submit(link_draft(office, facebook), office)
    assert run.results.get(gate_id="channel-risk-assessed").status == "pass"


def test_an_account_registered_outside_the_schools_domain_blocks_the_channel(office, head, facebook):
    reviews.update_channel(facebook, head, account_email="someone@gmail.com")
    run = drafting.submit(link_draft(office, facebook), office)
    result = run.results.get(gate_id="channel-protected")
    assert result.status == "fail" and "gmail.com" in result.message


def test_a_channel_whose_login_details_no_leader_holds_is_blocked(office, head, approver, facebook):
    reviews.update_channel(facebook, head, login_holders=[approver])
    run = drafting.submit(link_draft(office, facebook), office)
    assert "leadership" in run.results.get(gate_id="channel-protected").message


def test_a_channel_must_record_how_parents_were_informed(office, head, facebook):
    reviews.update_channel(facebook, head, parents_informed_how="")
    run = drafting.submit(link_draft(office, facebook), office)
    assert run.results.get(gate_id="community-informed").status == "fail"
    assert pipeline.channel_problems(facebook)


def test_a_complete_channel_has_no_problems(facebook):
    assert pipeline.channel_problems(facebook) == []


def test_youtube_can_never_be_set_public(head, youtube):
    with pytest.raises(ValidationError, match="never be public"):
        reviews.update_channel(youtube, head, youtube_privacy=Channel.Privacy.PUBLIC)


def test_unlisted_youtube_is_refused_unless_the_school_allows_it(head, office, youtube, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from connectors.conftest import noise_video

    with pytest.raises(ValidationError):
        reviews.update_channel(youtube, head, youtube_privacy=Channel.Privacy.UNLISTED)
    Channel.objects.filter(pk=youtube.pk).update(youtube_privacy=Channel.Privacy.UNLISTED)
    draft = drafting.create_draft(office, Channel.objects.get(pk=youtube.pk), title="Our play", objective="community", intended_outcome="Families watch the play.")
    drafting.add_media(draft, office, SimpleUploadedFile("play.mp4", noise_video(tmp_path / "play.mp4", seconds=1).read_bytes()),
                       source="Mrs Patel", rights="school", alt_text="The play")
    assert drafting.submit(draft, office).results.get(gate_id="official-channel").status == "fail"
    School.objects.filter(pk=draft.school_id).update(allow_youtube_unlisted=True)
    draft = Draft.objects.get(pk=draft.pk)
    assert drafting.submit(draft, office).results.get(gate_id="official-channel").status == "pass"


def test_only_the_headteacher_can_change_a_channel_record(approver, facebook):
    with pytest.raises(PermissionDenied):
        reviews.update_channel(facebook, approver, account_email="x@aycliffe.kent.sch.uk")


def test_every_change_to_a_channel_record_is_audited(head, facebook):
    reviews.update_channel(facebook, head, parents_informed_how="Newsletter, October")
    entry = facebook.audit_entries.filter(action="channel.updated").first()
    assert "parents_informed_how" in entry.summary


# --- YouTube's limits on a video's words, told while drafting ----------------------------------------


def test_a_youtube_description_over_5000_bytes_is_refused_at_drafting_with_the_reason(office, youtube):
    import pytest
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="at most 5,000 bytes; this one has 5,004"):
        drafting.create_draft(office, youtube, title="Our concert", text="é" * 2502, objective="community",
                              intended_outcome="Families who could not come see the concert.")


def test_angle_brackets_in_a_youtube_title_are_refused_at_drafting(office, youtube):
    import pytest
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="refuses < and >"):
        drafting.create_draft(office, youtube, title="Year 6 <3 their concert", text="Our concert.", objective="community",
                              intended_outcome="Families see the concert.")


def test_an_edit_that_breaks_youtubes_limits_is_refused_and_the_draft_keeps_what_it_had(office, youtube):
    import pytest
    from django.core.exceptions import ValidationError

    from moderation.models import Draft

    draft = drafting.create_draft(office, youtube, title="Our concert", text="Our concert.", objective="community",
                                  intended_outcome="Families see the concert.")
    with pytest.raises(ValidationError, match="5,000 bytes"):
        drafting.update_draft(draft, office, text="x" * 5001)
    assert Draft.objects.get(pk=draft.pk).text == "Our concert."


def test_the_new_draft_form_says_what_youtube_refuses_and_keeps_what_was_typed(office, youtube, client):
    client.force_login(office)
    response = client.post("/drafts/new/", {"channel": youtube.pk, "title": "Concert <live>", "text": "Our concert.",
                                            "objective": "community", "intended_outcome": "Families see the concert."})
    page = response.content.decode()
    assert response.status_code == 200 and "refuses &lt; and &gt;" in page and "Concert &lt;live&gt;" in page


# --- The platforms' other limits, told while drafting ---------------------------------------------


def test_a_facebook_post_longer_than_facebook_takes_is_refused_at_drafting_with_the_reason(office, facebook):
    with pytest.raises(ValidationError, match="at most 63,206 characters; this one has 63,207"):
        drafting.create_draft(office, facebook, text="x" * 63_207, objective="community", intended_outcome="Families read the news.")


def long_video(path, minutes=17):
    """A video of `minutes` minutes with one small frame a minute: long, but quick to make and read."""
    from fractions import Fraction

    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(1, 60))
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for minute in range(minutes):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), minute * 10, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_a_video_longer_than_youtube_takes_from_a_channel_not_verified_is_refused_when_added(office, youtube, facebook, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from moderation.drafts.media import MediaRejected

    settings.VIDEO_MAX_SECONDS = 60 * 60  # the school allows an hour; YouTube does not, unverified
    video = long_video(tmp_path / "concert.mp4").read_bytes()
    draft = link_draft(office, youtube, link="", title="Concert", text="The whole concert.")
    with pytest.raises(MediaRejected, match="YouTube takes videos of at most 15 minutes from a channel that is not verified"):
        drafting.add_media(draft, office, SimpleUploadedFile("concert.mp4", video), source="Mrs Patel", rights="school")
    assert not draft.media.exists() and not any(settings.UPLOAD_DIR.glob("*"))
    on_facebook = link_draft(office, facebook, link="", text="The whole concert.")
    drafting.add_media(on_facebook, office, SimpleUploadedFile("concert.mp4", video), source="Mrs Patel", rights="school")
    assert on_facebook.media.count() == 1  # Facebook takes 45 minutes


@pytest.mark.parametrize("channel_kind, kind, size, seconds, said", [
    ("facebook", "video", 1_800_000_000, 60, "Facebook takes videos of at most 1.75 GB"),
    ("facebook", "video", 1_000_000, 46 * 60, "Facebook takes videos of at most 45 minutes"),
    ("youtube", "video", 1_000_000, 16 * 60, "at most 15 minutes from a channel that is not verified"),
    ("youtube", "video", 1_000_000, 14 * 60, ""),
    ("facebook", "image", 50_000_000, None, ""),  # a photo is judged by its published copy, at publishing
])
def test_the_platforms_limits_on_one_file(channel_kind, kind, size, seconds, said):
    from connectors.base import media_problem

    problem = media_problem(channel_kind, kind, size, seconds)
    assert (said in problem) if said else problem == ""
