"""Enrolling a pupil's face for automatic recognition.

Only with a parent's written consent to biometric processing and never when the pupil objects
(Protection of Freedoms Act 2012, ss. 26-28). Each photo must show exactly one face. The
encodings are stored encrypted, all of them or none, and the audit log records who enrolled how
many faces for which UPN, never the encodings. Erasing them when consent goes or the pupil
leaves is done by the register (consent.services.erase_encodings).
"""

from pathlib import Path

import numpy as np
from django.core.exceptions import PermissionDenied
from django.db import transaction

from config.school import crypto
from config.school.files import sha256_of
from config.school.models import AuditEntry
from consent import faces
from consent.models import BiometricConsent, FaceEncoding, Pupil
from consent.services import COMMAND_LINE
from pixels import detection, photos, recognition


class EnrolmentRefused(Exception):
    """Nothing was stored. The message says why, in words for the register keeper."""


def refusal(pupil: Pupil) -> str:
    """Why this pupil's face may not be enrolled, or "" when it may."""
    if pupil.erased_at:
        return "This pupil's record has been erased: nothing may be enrolled for it."
    try:
        consent = pupil.biometric_consent
    except BiometricConsent.DoesNotExist:
        return "There is no record of written parental consent to biometric processing for this pupil."
    return consent.refusal()


def enrol(pupil: Pupil, image_paths, by) -> list[FaceEncoding]:
    """Enrol one face from each photo for the pupil, or refuse (EnrolmentRefused) storing nothing.

    by: the register keeper (a user with consent.keep_register), or consent.services.COMMAND_LINE
    for someone running manage.py on the server.
    """
    if by is not COMMAND_LINE and not (by and by.is_active and by.has_perm("consent.keep_register")):
        raise PermissionDenied("Only the register keeper can enrol a pupil's face.")
    actor = None if by is COMMAND_LINE else by
    pupil = Pupil.objects.select_related("biometric_consent").get(pk=pupil.pk)  # the register as it is now
    reason = refusal(pupil)
    if reason:
        raise EnrolmentRefused(f"{pupil.upn} cannot be enrolled: {reason}")
    paths = [Path(p) for p in image_paths]
    if not paths:
        raise EnrolmentRefused("Give at least one photo of the pupil to enrol.")
    box = crypto.fernet()  # no key: refuse before any work, and never store in plain text

    seen, encodings = {}, []
    for path in paths:
        try:
            image = photos.load_image(path)
        except photos.ImageRejected as error:
            raise EnrolmentRefused(f"{error} Nothing was enrolled.") from None
        digest = sha256_of(path)
        if digest in seen:
            raise EnrolmentRefused(f"'{path.name}' is the same file as '{seen[digest]}'. Nothing was enrolled.")
        seen[digest] = path.name
        found = detection.detect_faces(image)
        if len(found) != 1:
            what = "no face" if not found else f"{len(found)} faces"
            raise EnrolmentRefused(
                f"'{path.name}' shows {what}: an enrolment photo must show the pupil's face and no other. "
                "Nothing was enrolled."
            )
        face = found[0]
        if face.width < recognition.setting("FACE_MIN_IDENTIFY_PX"):
            raise EnrolmentRefused(
                f"'{path.name}': the face is only {face.width} px across; use a photo where it is at least "
                f"{recognition.setting('FACE_MIN_IDENTIFY_PX')} px. Nothing was enrolled."
            )
        encoding = recognition.encode_face(image, face)
        if not encoding.aligned:
            raise EnrolmentRefused(
                f"'{path.name}': the face cannot be aligned on its eyes, nose and mouth; use a clear photo of the face "
                "looking at the camera. Nothing was enrolled."
            )
        encodings.append((path, digest, encoding.vector))

    _check_consistent(pupil, encodings, box)

    with transaction.atomic():
        locked = Pupil.objects.select_for_update(of=("self",)).select_related("biometric_consent").get(pk=pupil.pk)
        reason = refusal(locked)  # consent may have been withdrawn while the photos were read
        if reason:
            raise EnrolmentRefused(f"{pupil.upn} cannot be enrolled: {reason}")
        already = set(
            FaceEncoding.objects.filter(pupil=locked, model=recognition.MODEL_ID).values_list("source_sha256", flat=True)
        )
        repeated = [path.name for path, digest, _ in encodings if digest in already]
        if repeated:
            raise EnrolmentRefused(
                f"{', '.join(repeated)} {'was' if len(repeated) == 1 else 'were'} already enrolled for {pupil.upn}. "
                "Nothing was enrolled."
            )
        # Encodings of an older model can never be matched again: enrolling anew replaces them.
        replaced, _ = FaceEncoding.objects.filter(pupil=locked).exclude(model=recognition.MODEL_ID).delete()
        rows = FaceEncoding.objects.bulk_create(
            FaceEncoding(pupil=locked, encrypted=crypto.encrypt_encoding(encoding, box), model=recognition.MODEL_ID,
                         source_sha256=digest, created_by=actor)
            for _, digest, encoding in encodings
        )
        AuditEntry.objects.create(
            actor=actor, action="faces.enrolled",
            summary=f"{len(rows)} face{'s' if len(rows) != 1 else ''} enrolled for {locked.reference}"
            + (" from the command line" if actor is None else "")
            + (f", replacing {replaced} made by an older face model" if replaced else ""),
            data={"pupil": locked.pk, "count": len(rows), "model": recognition.MODEL_ID, "replaced": replaced},
        )
    return rows


def _check_consistent(pupil: Pupil, encodings, box) -> None:
    """Refuse photos that do not look like one person, or that look like another enrolled pupil.

    Enrolling the wrong child's photo under a UPN would let that child's face pass on this
    pupil's consent: the worst error the product can make.
    """
    possible = recognition.setting("FACE_MATCH_POSSIBLE")
    earlier = [
        crypto.decrypt_encoding(t, box)
        for t in FaceEncoding.objects.filter(pupil=pupil, model=recognition.MODEL_ID).values_list("encrypted", flat=True)
    ]
    for i, (path, _, encoding) in enumerate(encodings):
        against = [(f"'{other.name}'", e) for other, _, e in encodings[i + 1:]] + [("a photo enrolled earlier", e) for e in earlier]
        for name, other in against:
            if float(np.linalg.norm(encoding - other)) > possible:
                raise EnrolmentRefused(
                    f"'{path.name}' and {name} do not look like the same person. Check that every photo is of "
                    f"pupil {pupil.upn}. Nothing was enrolled."
                )
    others = Pupil.objects.filter(face_encodings__model=recognition.MODEL_ID).exclude(pk=pupil.pk).distinct()
    if not others.exists():
        return
    register = faces.Register.load_all(exclude=pupil)
    confident = recognition.setting("FACE_MATCH_CONFIDENT")
    for path, _, encoding in encodings:
        index, distance, _ = register.nearest(encoding)
        if index is not None and distance <= confident:
            raise EnrolmentRefused(
                f"The face in '{path.name}' looks like pupil {register.pupils[index].upn}, who is already enrolled. "
                "Check the photo is of this pupil (twins and siblings may need to be identified by hand). "
                "Nothing was enrolled."
            )
