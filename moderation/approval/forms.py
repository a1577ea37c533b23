"""Forms for approving or sending back.
"""

from django import forms

from moderation.approval.attestations import ATTESTATIONS


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
