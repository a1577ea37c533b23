from django import forms
from django.conf import settings

from consent import profiles, services


class RegisterFilterForm(forms.Form):
    search = forms.CharField(label="Name or UPN", required=False, max_length=100)
    year = forms.ChoiceField(label="Year group", required=False)
    status = forms.ChoiceField(
        label="Show",
        required=False,
        choices=[(services.ON_ROLL, "Pupils on roll"), (services.LEFT, "Pupils who have left"), (services.EVERYONE, "Everyone")],
    )

    def __init__(self, *args, years=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [("", "All year groups"), *((y, y) for y in years)]


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV export of the register",
        allow_empty_file=True,  # the import says "The file is empty." like any other problem
        help_text="UTF-8 or Windows-1252. Nothing changes until you have seen the preview and confirmed it.",
    )
    profile = forms.ChoiceField(
        label="Column profile", help_text="Which MIS export this is: it says which column holds each field."
    )
    partial = forms.BooleanField(
        label="This file lists only some pupils: update them and leave everyone else as they are",
        required=False,
        help_text="Leave it unticked for a full export of the register: pupils who are not in it are then marked as "
                  "left and their enrolled faces erased.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = sorted(profiles.available(), key=lambda name: (name != profiles.DEFAULT, name))
        self.fields["profile"].choices = [(name, name) for name in names]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.REGISTER_UPLOAD_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {upload.size // 1024:,} KB; the largest accepted is {limit // 1024:,} KB. Is it the register export?"
            )
        return upload


class HandChangeForm(forms.Form):
    change = forms.ChoiceField(label="Change to record", widget=forms.RadioSelect)
    note = forms.CharField(
        label="How the school was told",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="For example: 'letter from a parent dated 3 March, filed in the pupil's folder'. Write no names here: "
                  "the note is kept in the audit trail, which cannot be changed or erased.",
    )

    def __init__(self, *args, pupil, erasing=False, **kwargs):
        """erasing: the form for erasing the record, kept apart from the routine withdrawals."""
        super().__init__(*args, **kwargs)
        self.fields["change"].choices = [(key, words) for key, words in services.hand_changes_for(pupil) if (key == "erase") == erasing]
        if erasing:
            self.fields["change"].widget = forms.HiddenInput()
            self.fields["change"].initial = "erase"
            self.fields["note"].label = "Why the record is erased"
            self.fields["note"].help_text = ("For example: 'left the school in July; family asked for erasure by letter of 3 September'. "
                                             "Write no names here: the note is kept in the audit trail.")
            self.fields["confirm"] = forms.BooleanField(
                label="I understand that the pupil's names, UPN, year group and enrolled faces are erased for good, and that this cannot be undone."
            )
