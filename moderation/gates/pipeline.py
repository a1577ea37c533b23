"""The pipeline: the draft's exact content frozen and hashed, and every gate run over it.

The same run serves submission, approval and the moment of publishing; an approval is bound to
the content hash the approver saw.
"""

import hashlib
import json
import shutil
import uuid
from dataclasses import replace
from datetime import timezone as dt_timezone
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from config.school import files
from config.school.files import sha256_of
from config.school.people import display_name
from connectors.models import Channel
from moderation.drafts.analysis import analysis_note
from moderation.gates import (
    attestations,
    authorised_author,
    channel_protected,
    channel_risk_assessed,
    clear_objective,
    community_informed,
    image_consent,
    inclusive_mirror,
    no_location_metadata,
    no_personal_data,
    official_channel,
    respectful_language,
    second_colleague,
)
from moderation.gates.base import (
    FAIL,
    PASS,
    WAITING,
    Content,
    Context,
    FaceItem,
    MediaItem,
    TrackItem,
    WordsItem,
)
from moderation.models import (
    Draft,
    GateResult,
    GateRun,
)

# Every gate of the policy map, in the map's order. A draft publishes only when every gate here
# passes on the exact content being published.
PIPELINE = [
    official_channel.gate,
    channel_risk_assessed.gate,
    channel_protected.gate,
    community_informed.gate,
    clear_objective.gate,
    authorised_author.gate,
    image_consent.gate,
    no_location_metadata.gate,
    no_personal_data.gate,
    respectful_language.gate,
    second_colleague.gate,
    attestations.gate,
    inclusive_mirror.gate,
]



class ContentUnreadable(Exception):
    pass


def freeze(draft: Draft, copy_to: Path | None = None, read_bytes: bool = True) -> Content:
    """Take the draft's content as it is now, hashing every media file's bytes (read_bytes=False:
    taking each file's hash as recorded at upload, for a page that only shows the hash).

    With copy_to, each upload is first copied there and that frozen copy is what is hashed,
    checked and turned into the published copy, so the bytes checked are the bytes sent.
    """
    items = []
    for media in draft.media.prefetch_related("faces__identified_by", "words", "tracks__identified_by"):
        try:
            # Only the hash asked for (a page): the file is not fetched (from a bucket, say) nor read.
            path = media.path if read_bytes or copy_to is not None else Path(media.stored_name)
            if copy_to is not None:
                copy_to.mkdir(mode=0o700, parents=True, exist_ok=True)  # pupils' pictures: this user's only
                copied = copy_to / f"{media.position:03d}-original-{uuid.uuid4().hex}"
                shutil.copyfile(path, copied)
                path = copied
            digest = sha256_of(path) if read_bytes or copy_to is not None else media.sha256
        except OSError as error:
            raise ContentUnreadable(
                storage_problem(error, media.original_name)
                or f"'{media.original_name}' cannot be read ({error.strerror or error}). Remove it and upload it again."
            ) from error
        faces = tuple(
            FaceItem(
                id=f.pk, box=f.box, source=f.source, identified_pupil_id=f.identified_pupil_id,
                identified_by=display_name(f.identified_by) if f.identified_by_id else "", blur=f.blur, number=f.number,
            )
            for f in media.faces.all()
        )
        items.append(MediaItem(
            position=media.position, kind=media.kind, source_path=path, path=path, sha256=digest,
            content_type=media.content_type, original_name=media.original_name, alt_text=media.alt_text,
            source=media.source, rights=media.rights, media_id=media.pk, faces=faces,
            faces_found=media.faces_found_at is not None, detection_error=media.detection_error,
            words=tuple(WordsItem(id=w.pk, box=w.box, text=w.text, blur=w.blur, time=w.time) for w in media.words.all()),
            words_read=media.words_read_at is not None, reading_error=media.reading_error,
            analysis=media.analysis, analysis_note=analysis_note(media),
            tracks=tuple(
                TrackItem(id=t.pk, start=t.start, end=t.end, box=t.box, identified_pupil_id=t.identified_pupil_id,
                          identified_by=display_name(t.identified_by) if t.identified_by_id else "", blur=t.blur,
                          sightings=tuple(tuple(s) for s in t.sightings), number=t.number)
                for t in media.tracks.all()
            ),
            thumbnail_time=media.thumbnail_time,
        ))
    content = Content(
        draft_id=draft.pk, channel_id=draft.channel_id, channel_kind=draft.channel.kind,
        text=draft.text, title=draft.title, link=draft.link, publish_at=draft.publish_at, media=tuple(items),
    )
    return replace(content, hash=content_hash(content))


def storage_problem(error: BaseException, name: str) -> str:
    """The words for a server whose disk is full (or read-only), or whose file storage does not
    answer, which is not the upload's fault; "" otherwise."""
    import errno

    while error is not None:
        if isinstance(error, files.StorageProblem):
            return (f"'{name}' could not be read or written: {error} Nothing was sent to the platform. Publish again "
                    "once the file storage answers (the health page says when); nothing needs uploading again.")
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS):
            return (f"The server could not write the published copy of '{name}' ({error.strerror}). Nothing was sent to "
                    "the platform. Free space on the server (or ask whoever looks after it), then publish again.")
        error = error.__cause__ or error.__context__
    return ""


def content_hash(content: Content) -> str:
    """The fingerprint an approval is bound to: text, title, link, channel, schedule, every file's bytes."""
    payload = {
        "channel": content.channel_id,
        "kind": content.channel_kind,
        "text": content.text,
        "title": content.title,
        "link": content.link,
        "publish_at": content.publish_at.astimezone(dt_timezone.utc).isoformat() if content.publish_at else None,
        "media": [
            {
                "sha256": m.sha256, "alt_text": m.alt_text, "kind": m.kind,
                "faces": sorted(
                    [list(f.box), f.source, f.identified_pupil_id, f.blur] for f in m.faces
                ),
                "words_blurred": sorted([*w.box, w.time or 0.0] for w in m.words if w.blur),
                "tracks": sorted([t.start, t.end, list(t.box), t.identified_pupil_id, t.blur] for t in m.tracks),
                "thumbnail_time": m.thumbnail_time,
            }
            for m in content.media
        ],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def run_gates(draft: Draft, phase: str, by, content: Content | None = None, only: tuple[str, ...] = ()) -> GateRun:
    """Run every gate (or only those named) over the exact content and store each result.
    Anything that cannot run fails."""
    now = timezone.now()
    results, unreadable = [], None
    if content is None:
        try:
            content = freeze(draft)
        except ContentUnreadable as error:
            unreadable = str(error)
    gates = [gate for gate in PIPELINE if not only or gate.id in only]
    for gate in gates:
        position = PIPELINE.index(gate)
        if unreadable:
            status, message = FAIL, f"Could not be checked: {unreadable}"
        else:
            try:
                outcome = gate.check(Context(draft=draft, content=content, phase=phase, now=now, school=draft.school))
                status, message = outcome.status, outcome.message
            except Exception as error:  # a gate that cannot run fails closed
                status, message = FAIL, f"This check could not run ({type(error).__name__}: {error}), so the draft cannot go further."
        results.append(GateResult(position=position, gate_id=gate.id, clause=gate.clause, status=status, message=message))
    gate_passed = all(_acceptable(PIPELINE[r.position], r.status, phase) for r in results)
    with transaction.atomic():
        run = GateRun.objects.create(
            draft=draft, phase=phase, run_by=by, run_at=now, content_hash=content.hash if content else "", passed=gate_passed
        )
        for result in results:
            result.run = run
        GateResult.objects.bulk_create(results)
    return run


def _acceptable(gate, status, phase) -> bool:
    """A gate waiting for a person holds nothing up until that person's turn has come."""
    if status == PASS:
        return True
    if status != WAITING:
        return False
    if phase in (GateRun.Phase.SUBMIT, GateRun.Phase.DECISION):
        return gate.decided_by_person or gate.reviewed_by_person
    if phase == GateRun.Phase.APPROVE:
        return gate.decided_by_person
    return False


def latest_run(draft: Draft) -> GateRun | None:
    """The draft's last full run of the checks (a decision's partial run is not one)."""
    return draft.gate_runs.exclude(phase=GateRun.Phase.DECISION).prefetch_related("results").first()


# What each kind of decision on the draft's page touches.
FACE_DECISION_GATES = ("image-consent",)


WORDS_DECISION_GATES = ("no-personal-data",)


def recheck_after_decision(draft: Draft, by, gate_ids: tuple[str, ...]) -> GateRun | None:
    """After a decision about a face or words, the checks it touches run again at once, so the
    draft's page shows their answer now rather than at the next approval. Nothing runs for a
    draft never checked (its page says so). The decision's run decides nothing by itself: every
    approval and publication runs every check again."""
    if not draft.gate_runs.exclude(phase=GateRun.Phase.DECISION).exists():
        return None
    return run_gates(draft, GateRun.Phase.DECISION, by, only=gate_ids)


def results_now(draft: Draft, run: GateRun | None) -> list[GateResult]:
    """The last full run's results, each replaced by a newer one where a decision ran it again
    (marked with rechecked_at)."""
    if run is None:
        return []
    newer = {}
    for later in draft.gate_runs.filter(phase=GateRun.Phase.DECISION, run_at__gte=run.run_at).prefetch_related("results").order_by("run_at", "id"):
        for result in later.results.all():
            result.rechecked_at = later.run_at
            newer[result.gate_id] = result
    return [newer.get(result.gate_id, result) for result in run.results.all()]


def failures(run: GateRun) -> list[GateResult]:
    """The results that hold the draft up at this run's phase."""
    gates = {gate.id: gate for gate in PIPELINE}
    return [r for r in run.results.all() if r.gate_id not in gates or not _acceptable(gates[r.gate_id], r.status, run.phase)]


def summary(results) -> str:
    return "; ".join(f"{r.gate_id}: {r.message}" for r in results)


def gate_ids(run: GateRun) -> str:
    """What the audit trail says of a failed run: which gates, and where their words are kept."""
    return f"failed {', '.join(r.gate_id for r in failures(run))} (gate run {run.pk})"


# The gates that look only at the channel's record, not at a draft.
CHANNEL_GATES = (official_channel.gate, channel_risk_assessed.gate, channel_protected.gate, community_informed.gate)


def channel_problems(channel: Channel) -> list[str]:
    """What blocks every draft for this channel, in words; empty when the record is complete."""
    probe = Draft(channel=channel)
    ctx = Context(draft=probe, content=None, phase="check", now=timezone.now(), school=channel.school)
    return [outcome.message for outcome in (g.check(ctx) for g in CHANNEL_GATES) if outcome.status != PASS]
