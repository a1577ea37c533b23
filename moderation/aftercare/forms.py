"""Forms for raising and handling concerns.
"""

from django import forms

from moderation.models import Concern


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
