"""What every gate shares: the content it checks, the context, and its outcome."""

import inspect
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

PASS, FAIL, WAITING, UNAVAILABLE = "pass", "fail", "waiting", "unavailable"


@dataclass(frozen=True)
class Outcome:
    status: str
    message: str


def passed(message: str) -> Outcome:
    return Outcome(PASS, message)


def failed(message: str) -> Outcome:
    return Outcome(FAIL, message)


def waiting(message: str) -> Outcome:
    return Outcome(WAITING, message)


@dataclass(frozen=True)
class FaceItem:
    """A face and what people decided about it: part of the approved content."""

    id: int
    box: tuple[int, int, int, int]  # top, right, bottom, left, in the photo as shown
    source: str
    identified_pupil_id: int | None
    identified_by: str
    blur: bool
    number: int = 0  # as the page and the audit trail number it


@dataclass(frozen=True)
class WordsItem:
    """A line of words read inside a photo, and whether a person chose to blur it."""

    id: int
    box: tuple[int, int, int, int]
    text: str
    blur: bool
    time: float | None = None  # in a video: when the frame read is shown


@dataclass(frozen=True)
class TrackItem:
    """A face followed through a video, and what people decided about it."""

    id: int
    start: float
    end: float
    box: tuple[int, int, int, int]  # at its best view
    identified_pupil_id: int | None
    identified_by: str
    blur: bool
    # Where the face was seen: [[time, top, right, bottom, left], ...] (what a blur follows).
    sightings: tuple = ()
    number: int = 0


@dataclass(frozen=True)
class MediaItem:
    position: int
    kind: str
    # The bytes checked: the upload itself, or at publishing a frozen copy of it.
    source_path: Path
    # What goes to the platform: the same as source_path until the published copy is derived.
    path: Path
    sha256: str
    content_type: str
    original_name: str
    alt_text: str
    source: str
    rights: str
    media_id: int = 0
    faces: tuple[FaceItem, ...] = ()
    faces_found: bool = False
    detection_error: str = ""
    words: tuple[WordsItem, ...] = ()
    words_read: bool = False
    reading_error: str = ""
    tracks: tuple[TrackItem, ...] = ()
    thumbnail_time: float | None = None  # a video's chosen thumbnail frame (None: a third of the way in)
    thumbnail_path: Path | None = None  # the published thumbnail, once it is made
    # Whether the worker has finished with it: "queued", "running", "done" or "failed".
    analysis: str = "done"
    analysis_note: str = ""  # what to tell a person while it is not done

    @property
    def analysed(self) -> bool:
        return self.analysis == "done"

    # Why a gate cannot check this file yet ("" when it can): the worker has not analysed it, or
    # its step of the analysis failed or never ran. The gate fails closed with these words.
    def _not_checkable(self, error: str, done: bool, missing: str) -> str:
        if not self.analysed:
            return self.analysis_note
        return f"{self.original_name}: {error or missing + '; upload it again'}" if error or not done else ""

    @property
    def faces_not_checkable(self) -> str:
        return self._not_checkable(self.detection_error, self.faces_found, "its faces have not been looked for yet")

    @property
    def words_not_checkable(self) -> str:
        return self._not_checkable(self.reading_error, self.words_read, "its words have not been read yet")


@dataclass(frozen=True)
class Content:
    """The exact content a run checks: what would be published, byte for byte."""

    draft_id: int
    channel_id: int
    channel_kind: str
    text: str
    title: str
    link: str
    publish_at: datetime | None
    media: tuple[MediaItem, ...] = field(default=())
    hash: str = ""

    @property
    def has_text(self) -> bool:
        return bool(self.text.strip() or self.title.strip())

    @property
    def has_media(self) -> bool:
        return bool(self.media)


@dataclass
class Context:
    draft: object  # moderation.models.Draft
    content: Content
    phase: str
    now: datetime
    school: object  # config.school.School


class Gate:
    """A check of one row of the policy map. The clause it enforces is its docstring."""

    id = ""
    title = ""
    # Decided by a person: "waiting" is acceptable until the approver has acted.
    decided_by_person = False
    # Partly left to the reviewing colleague (who a face is): "waiting" lets the draft reach
    # them, but it must pass before approval.
    reviewed_by_person = False

    @property
    def clause(self) -> str:
        return inspect.cleandoc(type(self).__doc__ or "").split("\n\n")[0].replace("\n", " ")

    def check(self, ctx: Context) -> Outcome:  # pragma: no cover - every gate overrides it
        raise NotImplementedError
