"""Pages about the member of staff themselves: the Acceptable Use Policy and the second factor.
"""

import functools
from urllib.parse import urlencode

import django_otp
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from moderation.accounts import second_factor
from moderation.accounts import services as accounts


def aup_required(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not accounts.has_accepted_aup(request.user):
            messages.info(request, f"Please accept version {settings.SCHOOL.aup_version} of the Acceptable Use Policy first.")
            return redirect(f"{reverse('aup')}?{urlencode({'next': request.get_full_path()})}")
        return view(request, *args, **kwargs)

    return wrapped


def accept_aup(request):
    if request.method == "POST":
        if request.POST.get("accept") == "yes":
            accounts.accept_aup(request.user)
            messages.success(request, f"Thank you: you accepted version {settings.SCHOOL.aup_version} of the Acceptable Use Policy.")
            target = request.POST.get("next") or ""
            return redirect(target if target.startswith("/") and not target.startswith("//") else "home")
        messages.error(request, "Tick the box to accept the policy.")
    return render(request, "moderation/aup.html", {"next": request.GET.get("next", ""), "accepted": accounts.has_accepted_aup(request.user)})


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else "/"


def second_factor_view(request):
    user = request.user
    if user.is_verified():
        return redirect(_next(request))
    device = second_factor.confirmed_device(user)
    error = ""
    if request.method == "POST":
        try:
            device = second_factor.check_code(user, request.POST.get("code", ""))
        except ValidationError as problem:
            error = " ".join(problem.messages)
        else:
            django_otp.login(request, device)
            messages.success(request, "Signed in with your second factor.")
            return redirect(_next(request))
    context = {"next": _next(request), "error": error, "setting_up": device is None}
    if device is None:
        pending = second_factor.pending_device(user)
        context.update(qr=second_factor.qr_data_uri(pending), key=second_factor.readable_key(pending))
    return render(request, "registration/second_factor.html", context, status=400 if error else 200)
