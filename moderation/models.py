"""Every model of the moderation app, gathered from the folders that own them (Django looks here).

Each concern keeps its models beside its services and views: drafts/, gates/, approval/,
publishing/, aftercare/, reviews/, accounts/, upkeep/.
"""

from moderation.accounts.models import (
    AUPAcceptance,
)
from moderation.aftercare.models import (
    Concern,
    ConcernNote,
    PlatformComment,
)
from moderation.approval.models import (
    Approval,
    FaceDecisions,
    LanguageReview,
    MediaFace,
    VideoTrack,
    next_face_number,
)
from moderation.drafts.models import (
    Draft,
    IllegalTransition,
    MediaFile,
    MediaText,
    add_months,
)
from moderation.gates.models import (
    GateResult,
    GateRun,
)
from moderation.publishing.models import (
    FamiliesAccess,
    PublishedMedia,
    PublishedPost,
    PublishedPupil,
)
from moderation.reviews.models import (
    PolicyReview,
    RiskAssessment,
)
from moderation.upkeep.models import ClockLease, WorkerBeat

__all__ = [
    "IllegalTransition",
    "add_months",
    "Draft",
    "MediaFile",
    "MediaText",
    "GateRun",
    "GateResult",
    "FaceDecisions",
    "next_face_number",
    "MediaFace",
    "Approval",
    "LanguageReview",
    "VideoTrack",
    "PublishedPost",
    "PublishedPupil",
    "PublishedMedia",
    "FamiliesAccess",
    "PlatformComment",
    "Concern",
    "ConcernNote",
    "RiskAssessment",
    "PolicyReview",
    "AUPAcceptance",
    "WorkerBeat",
    "ClockLease",
]
