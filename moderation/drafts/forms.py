"""Forms for writing a draft and describing its media.
"""

from django import forms
from django.utils import timezone

from connectors.models import Channel
from moderation.models import Draft, MediaFile


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
