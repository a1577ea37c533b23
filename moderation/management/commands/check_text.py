"""python manage.py check_text [--channel facebook|youtube] [--title TITLE] [--json] TEXT

Runs the no-personal-data and respectful-language gates on words, against the consent register
as it is now. TEXT "-" reads standard input. With --json it prints exactly one JSON object:

    {"verdict": "pass"|"fail"|"review",
     "findings": [{"gate": "no-personal-data"|"respectful-language",
                   "kind": "full-name"|"phone"|"email"|"postcode"|"address"|"date-of-birth"|"language",
                   "text": str, "where": "text"|"title"}]}

fail: personal data was found. review: only respectful-language flags, which a person must
judge. Exit status: 0 pass; 1 fail or review; 2 a usage error.
"""

import json
import sys

from django.core.management.base import CommandError

from config.school.commands import SchoolCommand
from consent.models import ChannelKind
from moderation.text import language, personal_data

PASS_EXIT, FAIL_EXIT, USAGE_EXIT = 0, 1, 2


class Command(SchoolCommand):
    help = "Check words for personal data and for language a person must judge, as the text gates do."

    def add_arguments(self, parser):
        parser.add_argument("--channel", choices=ChannelKind.values, default=ChannelKind.FACEBOOK, help="the kind of channel (default: facebook)")
        parser.add_argument("--title", default="", help="a YouTube title to check as well")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print one JSON object instead of sentences")
        parser.add_argument("text", metavar="TEXT", help='the words to check; "-" reads them from standard input')

    def handle(self, *args, channel, title, as_json, text, **options):
        if text == "-":
            try:
                text = sys.stdin.read()
            except UnicodeDecodeError as error:
                self._usage(f"Standard input is not UTF-8 text: {error}")
        try:
            names = personal_data.Names.from_register()
        except Exception as error:  # no database yet, or one that cannot be read
            raise CommandError(f"The consent register could not be read, so nothing was checked: {error}", returncode=USAGE_EXIT)
        allowed = self.school.own_contact_details
        findings = []
        for where, words in (("text", text), ("title", title)):
            findings += personal_data.find(words, where, names, allowed)
        for where, words in (("text", text), ("title", title)):
            findings += language.flags(words, where)
        if any(f.gate == personal_data.NO_PERSONAL_DATA for f in findings):
            verdict = "fail"
        elif findings:
            verdict = "review"
        else:
            verdict = "pass"
        if as_json:
            self.stdout.write(json.dumps({
                "verdict": verdict,
                "findings": [{"gate": f.gate, "kind": f.kind, "text": f.text, "where": f.where} for f in findings],
            }, ensure_ascii=False))
        else:
            for f in findings:
                self.stdout.write(f"{f.where}: {f.rule}: “{f.text}” ({f.gate})")
            self.stdout.write({
                "pass": "Pass: no personal data, and nothing for a person to judge.",
                "fail": "Fail: personal data was found.",
                "review": "Review: a person must judge the flagged words.",
            }[verdict])
        if verdict != "pass":
            sys.exit(FAIL_EXIT)

    def _usage(self, message):
        self.stderr.write(message)
        sys.exit(USAGE_EXIT)
