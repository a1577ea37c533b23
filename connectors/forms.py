from django import forms


class FacebookConnectForm(forms.Form):
    app_id = forms.CharField(label="Facebook app id", max_length=40)
    app_secret = forms.CharField(label="App secret", widget=forms.PasswordInput, max_length=200)
    user_token = forms.CharField(
        label="Short-lived user token", widget=forms.PasswordInput, max_length=1000,
        help_text="From the school's app login or Graph API Explorer, by someone with a role on the Page, with the permissions listed below.",
    )
    page_id = forms.CharField(label="Page id", max_length=120, required=False, help_text="Needed only when the account manages several Pages.")
    app_is_live = forms.BooleanField(
        label="The app is Live", required=False,
        help_text="Checked in the App Dashboard (App Mode). Until it is, the Page's posts are visible only to the app's admins and developers.",
    )
