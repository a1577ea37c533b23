"""The headteacher connects the school's Facebook Page from the channel's page."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render

from connectors.base import ConnectorError
from connectors.facebook import connect
from connectors.forms import FacebookConnectForm
from connectors.views import channel_for_headteacher


def connect_facebook(request, pk):
    channel = channel_for_headteacher(request, pk, "facebook")
    form = FacebookConnectForm(request.POST or None, initial={"app_id": settings.FACEBOOK_APP_ID, "page_id": channel.platform_account_id})
    if request.method == "POST" and form.is_valid():
        try:
            connection = connect.connect(channel, by=request.user, **form.cleaned_data)
        except ConnectorError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Connected to the Facebook Page '{connection.account_name}'. Posts for this channel now go to Facebook.")
            return redirect("channel", pk=pk)
    return render(request, "connectors/connect_facebook.html", {"channel": channel, "form": form, "permissions": connect.PERMISSIONS})
