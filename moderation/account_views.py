"""Signing in with a second factor: set it up with a QR code the first time, then a code each time."""

import django_otp
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from moderation import second_factor


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
