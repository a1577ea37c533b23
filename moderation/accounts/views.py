"""Pages about the member of staff themselves: the Acceptable Use Policy, the second factor, the
school they work in; and the trust administrator's page of schools.
"""

import functools
from urllib.parse import urlencode

import django_otp
from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from config.school.middleware import SESSION_KEY
from config.school.models import School
from config.school.roles import HEADTEACHER, has_role
from config.school.schools import (
    DETAIL_NAMES,
    add_school,
    change_details,
    details_seen,
    is_trust_administrator,
    set_on_the_server,
)
from moderation.accounts import second_factor
from moderation.accounts import services as accounts


def aup_required(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not accounts.has_accepted_aup(request.user):
            messages.info(request, f"Please accept version {accounts.aup_version()} of the Acceptable Use Policy first.")
            return redirect(f"{reverse('aup')}?{urlencode({'next': request.get_full_path()})}")
        return view(request, *args, **kwargs)

    return wrapped


def accept_aup(request):
    if request.method == "POST":
        if request.POST.get("accept") == "yes":
            accounts.accept_aup(request.user)
            messages.success(request, f"Thank you: you accepted version {accounts.aup_version()} of the Acceptable Use Policy.")
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


# --- Schools: which one a person works in, and the trust administrator's page ------------------

@require_POST
def choose_school(request):
    """A person with roles in several schools chooses the one they work in now."""
    schools = {str(s.pk): s for s in request.schools}
    chosen = schools.get(request.POST.get("school", ""))
    if chosen is None:
        messages.error(request, "You have no role in that school.")
    else:
        request.session[SESSION_KEY] = chosen.pk
        messages.success(request, f"You are now working in {chosen.name}.")
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return redirect(target if target and safe else "home")


class SchoolForm(forms.Form):
    name = forms.CharField(max_length=200, label="School's name")
    slug = forms.SlugField(max_length=60, required=False, label="Short name",
                           help_text="In its addresses, for example st-marys-primary. Made from the name when left empty.")
    email_domains = forms.CharField(required=False, label="Email domains it owns", help_text="Comma-separated, for example stmarys.kent.sch.uk.")
    head_first_name = forms.CharField(max_length=150, label="Headteacher's first name")
    head_last_name = forms.CharField(max_length=150, label="Headteacher's last name")
    head_email = forms.EmailField(label="Headteacher's email address")
    head_username = forms.CharField(max_length=150, label="Headteacher's username")
    head_password = forms.CharField(widget=forms.PasswordInput, label="Headteacher's first password",
                                    help_text="Give it to them in person; they add a second factor when they first sign in.")


def trust_schools(request):
    """The trust administrator's page: the schools on this installation, and a new one."""
    if not is_trust_administrator(request.user):
        raise PermissionDenied("Only a trust administrator manages the schools.")
    form = SchoolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            school = add_school(
                name=data["name"], slug=data["slug"], email_domains=data["email_domains"].split(","),
                head_username=data["head_username"], head_email=data["head_email"], head_first_name=data["head_first_name"],
                head_last_name=data["head_last_name"], head_password=data["head_password"], by=request.user,
            )
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(request, f"{school.name} is added. {data['head_username']} can sign in as its headteacher.")
            return redirect("trust_schools")
    schools = School.objects.annotate(people=Count("memberships__user", distinct=True)).order_by("name")
    return render(request, "moderation/trust_schools.html", {"form": form, "schools": schools})


def _listed(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


class SchoolDetailsForm(forms.Form):
    name = forms.CharField(max_length=200, label="School's name", help_text="Shown on every page, the news page and its feed.")
    email_domains = forms.CharField(required=False, label="Email domains the school owns",
                                    help_text="Comma-separated, for example aycliffe.kent.sch.uk: channel accounts must be registered in one of them.")
    address = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="The school's postal address",
                              help_text="Comma-separated: posts may give it (it is not a pupil's).")
    phones = forms.CharField(required=False, label="The office's phone numbers", help_text="Comma-separated: posts may give them, however they are written.")
    emails = forms.CharField(required=False, label="The office's email addresses", help_text="Comma-separated: posts may give them.")
    aup_version = forms.CharField(max_length=40, label="Acceptable Use Policy version",
                                  help_text="A new version asks every author and approver to accept the policy again.")
    aup_url = forms.URLField(required=False, max_length=200, assume_scheme="https", label="Where staff read the Acceptable Use Policy")
    risk_assessment_months = forms.IntegerField(min_value=1, max_value=12, label="Months a channel's risk assessment lasts",
                                                help_text="The policy asks for one at least every year.")
    youtube_made_for_kids = forms.BooleanField(required=False, label="Declare every YouTube upload made for kids")
    allow_youtube_unlisted = forms.BooleanField(required=False, label="Allow unlisted YouTube videos (never public)",
                                                help_text="The policy names a private channel: only with the governors' agreement.")
    # The details as the page showed them (and for which school): a save over another change is refused.
    seen = forms.CharField(widget=forms.HiddenInput)

    LISTS = ("email_domains", "phones", "emails")

    @classmethod
    def initial_from(cls, school) -> dict:
        initial = {field: ", ".join(getattr(school, field)) if field in cls.LISTS else getattr(school, field)
                   for field in cls.base_fields if field != "seen"}
        return {**initial, "seen": details_seen(school)}

    def details(self) -> dict:
        data = {field: value for field, value in self.cleaned_data.items() if field != "seen"}
        for field in self.LISTS:
            data[field] = [part.lower() if field == "email_domains" else part for part in _listed(data[field])]
        data["address"] = ", ".join(_listed(data["address"]))  # typed on several lines: one part a line
        return data


def school_details(request):
    """The headteacher's page of the school's own details (each school's own, on an installation of many)."""
    school = request.school
    if school is None or not has_role(request.user, HEADTEACHER, school=school):
        raise PermissionDenied("Only the school's headteacher changes its details.")
    form = _details_form(school, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            changed = change_details(school, request.user, form.details(), seen=form.cleaned_data["seen"])
        except ValidationError as error:
            problems = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
            if None in problems:  # changed meanwhile: what was typed stays, to be saved over the details as they are now
                school.refresh_from_db()
                form = _details_form(school, {**request.POST.dict(), "seen": details_seen(school)})
                form.is_valid()
            for field, said in problems.items():
                form.add_error(field if field in form.fields else None, said)
        else:
            messages.success(request, "Saved: " + ", ".join(DETAIL_NAMES[f] for f in changed) + "." if changed else "Nothing was changed.")
            return redirect("school_details")
    return render(request, "moderation/school_details.html", {"form": form, "the_school": school})


def _details_form(school, data) -> SchoolDetailsForm:
    form = SchoolDetailsForm(data, initial=SchoolDetailsForm.initial_from(school))
    for field, variable in set_on_the_server(school).items():
        form.fields[field].disabled = True
        form.fields[field].help_text = f"Set on the server by {variable}: ask whoever looks after it."
    return form
