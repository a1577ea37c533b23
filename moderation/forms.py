import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from moderation.attestations import ATTESTATIONS
from connectors.models import Channel
from moderation.models import Concern, Draft, MediaFile, PublishedPost
from config.school.roles import LEADERSHIP, OFFICE_STAFF

User = get_user_model()


class UserChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user):
        return user.get_full_name() or user.username


class DraftForm(forms.ModelForm):
    publish_at = forms.DateTimeField(
        required=False,
        label="Publish at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave empty if it can go out as soon as it is approved.",
    )
    link = forms.URLField(label="Link", required=False, max_length=500, assume_scheme="https")

    class Meta:
        model = Draft
        fields = ["title", "text", "link", "objective", "intended_outcome", "publish_at"]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 6}),
            "intended_outcome": forms.Textarea(attrs={"rows": 2}),
            "objective": forms.RadioSelect,
        }

    def __init__(self, *args, channel=None, **kwargs):
        super().__init__(*args, **kwargs)
        channel = channel or getattr(self.instance, "channel", None)
        self.fields["objective"].choices = Draft.Objective.choices
        self.fields["objective"].required = False
        # A draft may be saved unfinished; the clear-objective check needs these before it goes further.
        for name in ("objective", "intended_outcome"):
            self.fields[name].needed_to_submit = True
        self.fields["intended_outcome"].help_text += " At least three words."
        if channel and channel.kind == Channel.Kind.YOUTUBE:
            del self.fields["link"]
            self.fields["text"].label = "Video description"
        else:
            del self.fields["title"]

    def clean_publish_at(self):
        value = self.cleaned_data.get("publish_at")
        # A time already past would make the worker publish the post the moment it is approved.
        if value and value != self.initial.get("publish_at") and value <= timezone.now():
            raise forms.ValidationError("That time has already passed. Leave it empty to publish as soon as it is approved.")
        return value


class NewDraftForm(DraftForm):
    channel = forms.ModelChoiceField(queryset=Channel.objects.none(), empty_label=None)

    class Meta(DraftForm.Meta):
        fields = ["channel", *DraftForm.Meta.fields]

    def __init__(self, *args, channels=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = channels
        # Both kinds' fields are offered; the service keeps only those of the chosen channel.
        self.fields["title"] = forms.CharField(label="Video title (YouTube only)", required=False, max_length=100)
        self.fields["link"] = forms.URLField(label="Link (Facebook only)", required=False, max_length=500, assume_scheme="https")
        self.order_fields(["channel", "title", "text", "link", "objective", "intended_outcome", "publish_at"])


class MediaDetailsForm(forms.Form):
    """What the author says about a photo or video: asked at upload, and changeable afterwards."""

    source = forms.CharField(
        max_length=300, help_text="Who made it, when and where: for example, 'Mrs Patel, school camera, sports day 2026'."
    )
    rights = forms.ChoiceField(choices=[("", "Choose…"), *MediaFile.Rights.choices])
    alt_text = forms.CharField(
        label="Description for people who cannot see it",
        max_length=500,
        required=False,
        help_text="Shown on the school's own news page and read aloud by screen readers. It can be written later, "
                  "but the draft cannot be submitted without it.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The inclusive-mirror check needs it; the file can be uploaded (and analysed) first.
        self.fields["alt_text"].needed_to_submit = True


class MediaForm(MediaDetailsForm):
    file = forms.FileField(label="Photo or video")
    field_order = ["file", "source", "rights", "alt_text"]


class ApprovalForm(forms.Form):
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Comment for the author and the log")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, words in ATTESTATIONS:
            self.fields[f"attest_{key}"] = forms.BooleanField(label=words, required=True)

    def confirmed(self) -> dict[str, str]:
        return {key: words for key, words in ATTESTATIONS if self.cleaned_data.get(f"attest_{key}")}


class SendBackForm(forms.Form):
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="What should the author change?")


class ChannelForm(forms.ModelForm):
    login_holders = UserChoiceField(
        queryset=User.objects.filter(groups__name__in=LEADERSHIP, is_active=True).distinct().order_by("last_name"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Leadership staff who hold the login details",
    )
    authors = UserChoiceField(
        queryset=User.objects.filter(groups__name=OFFICE_STAFF, is_active=True).distinct().order_by("last_name"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Staff authorised to draft posts",
    )

    class Meta:
        model = Channel
        fields = [
            "name", "kind", "active", "platform_account_id", "dedicated_account_name", "account_email",
            "login_holders", "authors", "parents_informed_on", "parents_informed_how", "youtube_privacy",
        ]
        widgets = {
            "parents_informed_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "parents_informed_how": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, allow_unlisted=False, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = [Channel.Privacy.PRIVATE] + ([Channel.Privacy.UNLISTED] if allow_unlisted else [])
        self.fields["youtube_privacy"].choices = [(p.value, p.label) for p in allowed]
        if self.instance.pk:
            self.fields["kind"].disabled = True


class RiskAssessmentForm(forms.Form):
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), help_text="The risks considered and how each is controlled."
    )
    document_reference = forms.CharField(
        max_length=200, required=False, help_text="Where the full document is kept, for example its file name on the school drive."
    )
    confirm = forms.BooleanField(
        label="I have reviewed this channel's risk assessment and approve the channel for official use for the next 12 months."
    )


class PublishedPostFilter(django_filters.FilterSet):
    channel = django_filters.ModelChoiceFilter(queryset=Channel.objects.all(), empty_label="All channels")
    person = django_filters.ModelChoiceFilter(
        queryset=User.objects.order_by("last_name", "username"),
        method="filter_person",
        label="Person (author, approver or publisher)",
        empty_label="Anyone",
    )
    published_from = django_filters.DateFilter(
        field_name="published_at", lookup_expr="date__gte", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    published_to = django_filters.DateFilter(
        field_name="published_at", lookup_expr="date__lte", label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = PublishedPost
        fields = ["channel", "person", "published_from", "published_to"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # People by the names the office knows them by, not their usernames.
        self.filters["person"].field.label_from_instance = lambda user: user.get_full_name() or user.username

    def filter_person(self, queryset, name, user):
        from django.db.models import Q

        return queryset.filter(Q(draft__author=user) | Q(approval__approver=user) | Q(published_by=user))


class ConcernForm(forms.ModelForm):
    """The news page's concern form: no account, and nothing personal required."""

    class Meta:
        model = Concern
        fields = ["kind", "details", "contact"]
        widgets = {"kind": forms.RadioSelect, "details": forms.Textarea(attrs={"rows": 5, "maxlength": 5000})}
        labels = {"contact": "Your name and how to reach you"}
        help_texts = {
            "contact": "Only if you would like the school to reply. You can report without giving your name.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = Concern.Kind.choices  # no blank choice ticked in advance


class ReasonForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)

    def __init__(self, *args, label="Reason", help_text="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["text"].label, self.fields["text"].help_text = label, help_text


class PolicyReviewForm(forms.Form):
    version = forms.CharField(label="Version or date of the policy reviewed", max_length=60)
    notes = forms.CharField(
        label="What was reviewed or changed", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: reviewed with the governors' safeguarding committee; the section on comments updated.",
    )
