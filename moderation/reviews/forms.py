"""Forms for channels, risk assessments and the policy review.
"""

from django import forms
from django.contrib.auth import get_user_model

from config.school.roles import LEADERSHIP, OFFICE_STAFF
from config.school.tenancy import people
from connectors.models import Channel

User = get_user_model()


class UserChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user):
        return user.get_full_name() or user.username


class ChannelForm(forms.ModelForm):
    login_holders = UserChoiceField(
        queryset=User.objects.none(),  # the school's leadership staff (__init__)
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Leadership staff who hold the login details",
    )
    authors = UserChoiceField(
        queryset=User.objects.none(),  # the school's office staff (__init__)
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
        self.fields["login_holders"].queryset = people(*LEADERSHIP).filter(is_active=True).order_by("last_name")
        self.fields["authors"].queryset = people(OFFICE_STAFF).filter(is_active=True).order_by("last_name")
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


class PolicyReviewForm(forms.Form):
    version = forms.CharField(label="Version or date of the policy reviewed", max_length=60)
    notes = forms.CharField(
        label="What was reviewed or changed", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: reviewed with the governors' safeguarding committee; the section on comments updated.",
    )
