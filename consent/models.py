"""The consent register: pupils, written photo consent per channel, biometric consent, face encodings."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.school.scoping import BelongsToSchool, school_scoped

User = settings.AUTH_USER_MODEL


class ChannelKind(models.TextChoices):
    FACEBOOK = "facebook", "Facebook"
    YOUTUBE = "youtube", "YouTube"


class Pupil(BelongsToSchool):
    objects = school_scoped("school")
    upn = models.CharField("UPN", max_length=13)
    legal_forename = models.CharField(max_length=100)
    legal_surname = models.CharField(max_length=100)
    preferred_forename = models.CharField(max_length=100, blank=True)
    year_group = models.CharField(max_length=20, blank=True)
    on_roll = models.BooleanField(default=True)
    left_on = models.DateField(null=True, blank=True)
    # Erased: names, UPN and year group gone, faces erased; consents and links to posts kept, nameless.
    erased_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["legal_surname", "legal_forename", "upn"]
        permissions = [("keep_register", "Can import and change the consent register")]
        # A UPN is one pupil's in England, but a pupil who moves within a trust has a record at each school.
        constraints = [models.UniqueConstraint(fields=["school", "upn"], name="one_record_per_upn_per_school")]

    def __str__(self):
        if self.erased_at:
            return "an erased pupil's record"
        return f"{self.known_as} {self.legal_surname}"

    @property
    def reference(self) -> str:
        """How the audit trail names a pupil: by record number, so that erasing the record leaves
        no name behind in entries that cannot be changed (moderation/templatetags/people.py shows
        the name beside it while the record exists)."""
        return f"pupil record {self.pk}"

    @property
    def known_as(self):
        return self.preferred_forename or self.legal_forename


class PhotoConsent(models.Model):
    """Written parental consent to a pupil's photo on one kind of channel."""
    objects = school_scoped("pupil__school")

    pupil = models.ForeignKey(Pupil, on_delete=models.CASCADE, related_name="photo_consents")
    channel_kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    given = models.BooleanField(default=False)
    given_on = models.DateField(null=True, blank=True)
    form_reference = models.CharField(max_length=200, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    withdrawn_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pupil", "channel_kind"], name="one_photo_consent_per_channel_kind")]

    def has_lapsed(self, on=None) -> bool:
        """Consent once given has been withdrawn or has expired (leaving school is neither)."""
        on = on or timezone.localdate()
        return bool(self.withdrawn_on or (self.expires_on and on > self.expires_on) or not self.given)

    def is_current(self, on=None) -> bool:
        on = on or timezone.localdate()
        return bool(
            self.pupil.on_roll
            and self.given
            and self.given_on
            and self.given_on <= on
            and self.withdrawn_on is None
            and (self.expires_on is None or on <= self.expires_on)
        )


class BiometricConsent(models.Model):
    """Consent to biometric processing (face enrolment), separate from photo consent.

    Protection of Freedoms Act 2012, ss. 26-28: a parent's written consent, and never when the
    pupil objects, whatever the parent said.
    """
    objects = school_scoped("pupil__school")

    pupil = models.OneToOneField(Pupil, on_delete=models.CASCADE, related_name="biometric_consent")
    parent_consent = models.BooleanField(default=False)
    given_on = models.DateField(null=True, blank=True)
    form_reference = models.CharField(max_length=200, blank=True)
    withdrawn_on = models.DateField(null=True, blank=True)
    pupil_objects = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def refusal(self) -> str:
        """Why this pupil's face may not be enrolled, or "" when it may."""
        if not self.pupil.on_roll:
            return "The pupil has left the school."
        if self.pupil_objects:
            return "The pupil objects to biometric processing, which overrides any consent."
        if not self.parent_consent or self.withdrawn_on:
            return "There is no current written parental consent to biometric processing."
        return ""


class FaceEncoding(models.Model):
    """One enrolled face, encrypted at rest; erased when consent goes or the pupil leaves."""
    objects = school_scoped("pupil__school")

    pupil = models.ForeignKey(Pupil, on_delete=models.CASCADE, related_name="face_encodings")
    encrypted = models.BinaryField()
    # The face model that made it: an encoding is only ever compared with those of the same model
    # (pixels.recognition.MODEL_ID). Older models' encodings wait for the pupil to be enrolled again.
    model = models.CharField(max_length=40)
    source_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, related_name="+")
