"""python manage.py add_school NAME --head-username U --head-email E [--slug S] [--domains a,b]

Adds a school to the installation with its first headteacher account. The headteacher's
password is asked for twice (or read from the environment variable HEADTEACHER_PASSWORD when
--no-input is given); they give a second factor at their first sign-in. Exits 1 with the
reasons when anything is wrong; nothing is created then.
"""

import getpass
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from config.school.schools import add_school


class Command(BaseCommand):
    help = "Add a school, with its first headteacher account."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the school's name, as families know it")
        parser.add_argument("--slug", default="", help="the short name in its addresses (made from the name when not given)")
        parser.add_argument("--domains", default="", help="the email domains the school owns, comma-separated")
        parser.add_argument("--head-username", required=True)
        parser.add_argument("--head-email", required=True)
        parser.add_argument("--head-first-name", default="")
        parser.add_argument("--head-last-name", default="")
        parser.add_argument("--no-input", action="store_true", help="read the password from HEADTEACHER_PASSWORD")

    def handle(self, *args, name, slug, domains, head_username, head_email, head_first_name, head_last_name, no_input, **options):
        if no_input:
            password = os.environ.get("HEADTEACHER_PASSWORD", "")
            if not password:
                raise CommandError("With --no-input, give the headteacher's first password in HEADTEACHER_PASSWORD. Nothing was created.")
        else:
            password = getpass.getpass("The headteacher's first password: ")
            if password != getpass.getpass("The same again: "):
                raise CommandError("The two passwords differ. Nothing was created.")
        try:
            school = add_school(name=name, slug=slug, email_domains=domains.split(","), head_username=head_username,
                                head_email=head_email, head_first_name=head_first_name, head_last_name=head_last_name,
                                head_password=password)
        except ValidationError as error:
            raise CommandError("Nothing was created: " + " ".join(m for ms in error.message_dict.values() for m in ms)) from None
        self.stdout.write(f"Added {school.name} ({school.slug}). Its news page is /schools/{school.slug}/news/; "
                          f"{head_username} signs in as its headteacher and sets up its channels and register.")
