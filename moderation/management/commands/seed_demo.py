"""Create the demo school once: one user per role, two channels, and a few drafts.

Running it again changes nothing and prints the logins again.
"""

import datetime
import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from config.school import crypto, roles
from config.school.commands import SchoolCommand
from connectors.models import Channel
from consent import services as register
from consent.models import FaceEncoding, Pupil
from moderation.accounts import services as accounts
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import analysis
from moderation.drafts import services as drafting
from moderation.publishing import services as publishing
from moderation.reviews import services as reviews
from pixels import detection, photos, recognition

DEMO_PASSWORD = "aycliffe-demo-2026"
DEMO_PHOTOS = Path(__file__).resolve().parents[2] / "demo"

# Made-up pupils; the people in the demo photos stand in for them.
DEMO_REGISTER = """UPN,Legal Forename,Legal Surname,Preferred Forename,Year,Facebook Consent,YouTube Consent,Consent Date,Consent Expires,Biometric Consent,Objects To Biometrics
A100000000001,Barack,Obama,Barry,Year 6,Yes,Yes,01/09/2026,,Yes,No
A100000000002,Joseph,Biden,Joe,Year 6,No,No,01/09/2026,,No,No
A100000000003,Amira,Khan,,Year 3,Yes,No,01/09/2026,31/08/2027,No,No
A100000000004,Oliver,Wright,Ollie,Year 4,Yes,Yes,02/09/2026,,Yes,Yes
"""

USERS = [
    ("office", "Sam", "Patel", roles.OFFICE_STAFF, "writes drafts"),
    ("approver", "Jo", "Okafor", roles.APPROVER, "reviews and approves colleagues' drafts"),
    ("approver2", "Lee", "Morgan", roles.APPROVER, "a second approver"),
    ("head", "Jacky", "Cox", roles.HEADTEACHER, "channel records and risk assessments, the log"),
    ("dsl", "Priya", "Shah", roles.DSL, "designated safeguarding lead: the log and audit trail"),
    ("register", "Chris", "Evans", roles.REGISTER_KEEPER, "keeps the consent register"),
]


class Command(SchoolCommand):
    help = "Create the demo school (once) and print its logins."

    def add_arguments(self, parser):
        parser.add_argument("--address", default="http://127.0.0.1:8000",
                            help="where the site will answer, for the addresses printed (make run passes its HOST and PORT)")

    def handle(self, *args, address, **options):
        address = address.rstrip("/")
        with transaction.atomic():
            users = {username: self.user(username, first, last, role) for username, first, last, role, _ in USERS}
            created = self.channels_and_posts(users)
        self.stdout.write(self.style.SUCCESS("Demo school ready." if created else "Demo school already there: nothing changed."))
        self.stdout.write(f"Log in at {address}/ with any of these (password for all: {DEMO_PASSWORD}):")
        for username, first, last, role, what in USERS:
            self.stdout.write(f"  {username:<10} {first} {last}, {role}: {what}")
        self.stdout.write(
            "Every role but office staff also gives a second factor: scan the QR code shown at the first log in with an "
            "authenticator app, or, for the demo only, run `DJANGO_DEBUG=1 .venv/bin/python manage.py second_factor_code USERNAME` "
            "for the current code."
        )
        self.stdout.write(f"The public news page (no login): {address}/mirror/")

    def user(self, username, first, last, role):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@aycliffe.kent.sch.uk"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
            roles.give_role(user, self.school, role)
        return user

    def channels_and_posts(self, users) -> bool:
        if Channel.objects.exists():
            return False
        head = users["head"]
        accounts.accept_aup(head)
        facebook = Channel(kind=Channel.Kind.FACEBOOK)
        reviews.update_channel(
            facebook, head, name="Aycliffe Primary on Facebook", connector="outbox", active=True,
            platform_account_id="aycliffe-primary", dedicated_account_name="Aycliffe Community Primary School (Page)",
            account_email="social@aycliffe.kent.sch.uk", parents_informed_on=datetime.date(2026, 9, 4),
            parents_informed_how="Letter home of 4 September 2026 and the September newsletter: what we post, and how to report a concern.",
            login_holders=[head, users["dsl"]], authors=[users["office"]],
        )
        youtube = Channel(kind=Channel.Kind.YOUTUBE)
        reviews.update_channel(
            youtube, head, name="Aycliffe Primary on YouTube", connector="outbox", active=True,
            platform_account_id="UC-aycliffe-demo", dedicated_account_name="Aycliffe Primary School (Brand Account)",
            account_email="youtube@aycliffe.kent.sch.uk", youtube_privacy=Channel.Privacy.PRIVATE,
            parents_informed_on=datetime.date(2026, 9, 4),
            parents_informed_how="Letter home of 4 September 2026: class performances are shared privately with families.",
            login_holders=[head], authors=[users["office"]],
        )
        for channel in (facebook, youtube):
            reviews.approve_risk_assessment(
                channel, head,
                summary="Dedicated school account; leadership hold the logins; comments monitored daily; "
                "no pupil named in full; photos only with written consent; every post approved by a second colleague.",
                document_reference="Governors' drive: Online safety / Social media risk assessment 2026.docx",
            )
        reviews.record_policy_review(
            head, version="2026-1", notes="Reviewed with the governors' safeguarding committee; no changes needed.",
        )

        office, approver = users["office"], users["approver"]
        accounts.accept_aup(office)
        accounts.accept_aup(approver)
        newsletter = drafting.create_draft(
            office, facebook, link="https://www.aycliffe.kent.sch.uk/news/autumn-newsletter-2026",
            objective="community", intended_outcome="Families who follow the Page find the autumn newsletter.",
        )
        drafting.submit(newsletter, office)
        approving.approve(newsletter, approver, dict(ATTESTATIONS), "Checked the link opens the newsletter.")
        published = publishing.publish(newsletter, approver)
        # Comments as the platform would report them, for the worker's first comments round: one
        # reads as if a child wrote it, and is raised to the DSL.
        (settings.OUTBOX_DIR / published.platform_post_id / "comments.json").write_text(json.dumps([
            {"id": "demo-1", "author": "A parent", "text": "Thank you, lovely newsletter!", "created_at": timezone.now().isoformat()},
            {"id": "demo-2", "author": "Sunny", "text": "im 9 and im in year 4!! follow me on my tiktok", "created_at": timezone.now().isoformat()},
        ]))

        concert = drafting.create_draft(
            office, facebook, text="Reminder: the Christmas concert is on Thursday at 2pm in the school hall. All welcome!",
            objective="community", intended_outcome="Families remember the date and time of the Christmas concert.",
            publish_at=timezone.now() + datetime.timedelta(days=1),
        )
        drafting.submit(concert, office)
        approving.approve(concert, approver, dict(ATTESTATIONS), "Date checked with the music lead.")

        calendar = drafting.create_draft(
            office, facebook, link="https://www.aycliffe.kent.sch.uk/calendar",
            objective="community", intended_outcome="Parents see the dates of the spring term events in one place.",
        )
        drafting.submit(calendar, office)

        self.register_and_photo(users, facebook)

        sports = drafting.create_draft(
            office, facebook, text="What a sports day! Thank you to every family who came to cheer. Well done to Barry Obama, winner of the sack race.",
            objective="community", intended_outcome="Thank families for coming to sports day.",
            publish_at=timezone.now() + datetime.timedelta(days=2),
        )
        drafting.submit(sports, office)
        return True

    def register_and_photo(self, users, facebook):
        """A small consent register, one enrolled face, and a photo draft for the approver to review."""
        register.import_register(users["register"], DEMO_REGISTER.encode(), file_name="demo-register.csv")
        crypto.require_key()
        barry = Pupil.objects.get(upn="A100000000001")
        image = photos.load_image(DEMO_PHOTOS / "enrol-barry.jpg")
        [face] = detection.detect_faces(image)
        FaceEncoding.objects.create(pupil=barry, encrypted=crypto.encrypt_encoding(recognition.encode(image, face)),
                                    model=recognition.MODEL_ID, source_sha256="demo")
        office = users["office"]
        assembly = drafting.create_draft(
            office, facebook, link="https://www.aycliffe.kent.sch.uk/news/assembly-visitors",
            objective="community", intended_outcome="Families see who visited our Friday assembly.",
        )
        with open(DEMO_PHOTOS / "assembly.jpg", "rb") as handle:
            photo = drafting.add_media(
                assembly, office, File(handle, name="assembly.jpg"), source="Mrs Patel, school camera, Friday assembly",
                rights="school", alt_text="Two visitors standing in front of the school hall curtains",
            )
        analysis.run(photo.pk)  # what the worker would do, here and now, so that the demo starts ready
        drafting.submit(assembly, office)
