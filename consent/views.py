"""Thin views of the consent register: they read forms, call consent.services, and show the result."""

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from consent import services
from consent.enrolment import EnrolmentRefused, enrol
from consent.forms import HandChangeForm, ImportForm, RegisterFilterForm
from consent.models import Pupil
from consent.profiles import ProfileError

keeper_only = permission_required(services.PERMISSION, raise_exception=True)

# The uploaded file waits here, as text, between the preview and the confirmation: never on disk.
PENDING = "consent.pending_import"


@keeper_only
def register(request):
    form = RegisterFilterForm(request.GET or None, years=services.year_groups())
    filters = form.cleaned_data if form.is_valid() else {}
    lines = services.find_pupils(
        request.user, search=filters.get("search", ""), year=filters.get("year", ""), status=filters.get("status") or services.ON_ROLL
    )
    return render(request, "consent/register.html", {"form": form, "lines": lines, "enrol_again": services.to_enrol_again(request.user)})


def _record(request, upn):
    try:
        return services.pupil_record(request.user, upn)
    except Pupil.DoesNotExist:
        raise Http404("There is no pupil with this UPN in the register.") from None


@keeper_only
def pupil(request, upn):
    record = _record(request, upn)
    return render(request, "consent/pupil.html", {**record, **_change_forms(record["pupil"])})


def _change_forms(pupil, posted=None) -> dict:
    """The routine changes by hand, and erasing the record, as two forms kept apart."""
    forms = {"form": HandChangeForm(pupil=pupil), "erase_form": HandChangeForm(pupil=pupil, erasing=True)}
    if posted is not None:
        forms["erase_form" if posted.data.get("change") == "erase" else "form"] = posted
    if not forms["erase_form"].fields["change"].choices:
        forms["erase_form"] = None
    return forms


@keeper_only
@require_POST
def hand_change(request, upn):
    record = _record(request, upn)
    form = HandChangeForm(request.POST, pupil=record["pupil"], erasing=request.POST.get("change") == "erase")
    if form.is_valid():
        try:
            done = services.record_hand_change(record["pupil"], form.cleaned_data["change"], request.user, form.cleaned_data["note"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{record['pupil']}: {done}")
            return redirect("register_pupil", upn=record["pupil"].upn)
    return render(request, "consent/pupil.html", {**record, **_change_forms(record["pupil"], form)})


@keeper_only
def register_import(request):
    if request.method == "POST" and "cancel" in request.POST:
        request.session.pop(PENDING, None)
        messages.info(request, "Import cancelled: nothing was changed.")
        return redirect("register_import")
    if request.method == "POST" and "token" in request.POST:
        return _confirm(request)
    try:
        form = ImportForm(request.POST or None, request.FILES or None)
    except ProfileError as error:
        return render(request, "consent/import.html", {"profile_error": str(error)})
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = services.import_register(
                request.user, upload.read(), file_name=upload.name, profile=form.cleaned_data["profile"],
                partial=form.cleaned_data["partial"], dry_run=True,
            )
        except ProfileError as error:
            messages.error(request, str(error))
            return render(request, "consent/import.html", {"form": form})
        return _preview(request, report)
    return render(request, "consent/import.html", {"form": form})


def _preview(request, report):
    token = ""
    request.session.pop(PENDING, None)
    if not report.rejected:
        token = secrets.token_urlsafe(16)
        request.session[PENDING] = {
            "token": token, "text": report.text, "file_name": report.file_name, "profile": report.profile,
            "partial": report.partial, "fingerprint": report.fingerprint, "school": request.school.pk,
        }
    return render(request, "consent/import_report.html", {"report": report, "token": token})


def _confirm(request):
    pending = request.session.get(PENDING)
    if (not pending or not secrets.compare_digest(pending["token"], request.POST.get("token", ""))
            or pending.get("school") != request.school.pk):  # previewed in another of the keeper's schools
        messages.error(request, "There is no file waiting to be imported (it was imported, cancelled or replaced by another upload). Upload it again.")
        return redirect("register_import")
    try:
        report = services.import_register(
            request.user, pending["text"].encode("utf-8"), file_name=pending["file_name"], profile=pending["profile"],
            partial=pending["partial"], expect_fingerprint=pending["fingerprint"],
        )
    except services.RegisterChanged as changed:
        messages.error(request, str(changed))
        return _preview(request, changed.report)
    except ProfileError as error:
        request.session.pop(PENDING, None)
        messages.error(request, str(error))
        return redirect("register_import")
    request.session.pop(PENDING, None)
    if report.rejected:
        return _preview(request, report)
    messages.success(request, f"Imported {report.file_name}: {report.counts_in_words()}.")
    return render(request, "consent/import_report.html", {"report": report})


@keeper_only
@require_POST
def enrol_faces(request, upn):
    """Enrol from uploaded photos. They are read from a private temporary folder and never kept."""
    import tempfile
    from pathlib import Path

    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    record = _record(request, upn)
    uploads = request.FILES.getlist("photos")
    if not uploads:
        messages.error(request, "Choose one or more photos of the pupil, each showing their face and no other.")
        return redirect("register_pupil", upn=record["pupil"].upn)
    with tempfile.TemporaryDirectory(prefix="enrol-") as folder:
        paths = []
        for number, upload in enumerate(uploads, start=1):
            if upload.size > settings.MEDIA_MAX_BYTES:
                messages.error(request, f"'{upload.name}' is too large. Nothing was enrolled.")
                return redirect("register_pupil", upn=record["pupil"].upn)
            # A generated name: the user's file name never reaches the file system.
            path = Path(folder) / f"photo-{number}"
            with open(path, "wb") as handle:
                for chunk in upload.chunks():
                    handle.write(chunk)
            paths.append(path)
        try:
            rows = enrol(record["pupil"], paths, request.user)
        except (EnrolmentRefused, ImproperlyConfigured) as error:
            names = {f"photo-{n}": u.name for n, u in enumerate(uploads, start=1)}
            message = str(error)
            for generated, original in names.items():
                message = message.replace(generated, original)
            messages.error(request, message)
        else:
            messages.success(request, f"Enrolled {len(rows)} face{'s' if len(rows) != 1 else ''} for {record['pupil']}, stored encrypted. The photos were not kept.")
    return redirect("register_pupil", upn=record["pupil"].upn)
