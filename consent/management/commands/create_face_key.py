"""python manage.py create_face_key: the key file for the face encodings, made once (mode 0600).

Does nothing when the file is already there, or when FACE_ENCRYPTION_KEY gives the key.
"""

from django.conf import settings
from django.core.management.base import BaseCommand

from config.school import crypto


class Command(BaseCommand):
    help = "Create the key file for the face encodings (mode 0600) when there is none; otherwise do nothing."

    def handle(self, *args, **options):
        path = crypto._key_file()
        if (getattr(settings, "FACE_KEY", "") or "").strip():
            self.stdout.write("FACE_ENCRYPTION_KEY is set: the face encodings use it, and no key file is needed.")
        elif crypto.create_key_file(path):
            self.stdout.write(
                f"Created the face encryption key {path} (mode 0600). Back it up with the database: "
                "without it, enrolled faces cannot be read."
            )
        else:
            self.stdout.write(f"The face encryption key {path} is already there: nothing changed.")
