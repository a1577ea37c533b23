"""python manage.py bench_text: how well and how fast the text gates work on this machine.

Prints the OCR's reading of names in made-up pictures (certificates, name badges on a busy
background, a blurred whiteboard) and its seconds a picture; the respectful-language flags
against the labelled sentences of tests/language_samples.csv at several scores; and the time
to check a post's words against a register of 2,000 pupils.
"""

import csv
import os
import re
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from moderation.text import language, personal_data
from pixels import ocr

SAMPLES = Path(settings.BASE_DIR) / "tests" / "language_samples.csv"
HATECHECK = Path(settings.BASE_DIR) / "tests" / "data" / "hatecheck" / "test_suite_cases.csv"
SCHOOL_LANGUAGE = Path(settings.BASE_DIR) / "tests" / "data" / "school_language.csv"
REVIEWED_LANGUAGE = Path(settings.BASE_DIR) / "tests" / "data" / "school_language_reviewed.csv"
PRESIDIO = Path(settings.BASE_DIR) / "tests" / "data" / "presidio" / "recogniser_cases.csv"
# What the school's policy asks of each HateCheck functionality. HateCheck labels abuse of an
# individual, of a group that is not protected, and profanity "non-hateful"; the policy asks a
# person to look at them all ("nothing threatening, hurtful or profane"). Quoting hate to
# condemn it, reclaimed slurs and a slur's other meanings are worth a look on an official page.
POLICY_WANTS_A_LOOK = {"profanity_nh", "target_indiv_nh", "target_group_nh", "counter_quote_nh", "counter_ref_nh",
                       "slur_homonym_nh", "slur_reclaimed_nh"}
MUST_PASS = {"ident_neutral_nh", "ident_pos_nh"}
CORPUS = Path(settings.BASE_DIR) / "tests" / "data" / "posts.csv"
CORPUS_REGISTER = Path(settings.BASE_DIR) / "tests" / "data" / "posts-register.csv"
NAMES = ["Ava Smith", "Tom O'Brien", "Zoe Bronte", "Ruby Okoro", "Jack Taylor", "Mia Khan"]


def picture(kind: str, name: str) -> Image.Image:
    if kind == "certificate":
        image = Image.new("RGB", (1600, 1100), "white")
        draw = ImageDraw.Draw(image)
        draw.text((200, 150), "Certificate of Achievement", font=ImageFont.load_default(size=70), fill="black")
        draw.text((300, 450), f"Awarded to {name}", font=ImageFont.load_default(size=70), fill="navy")
        return image
    if kind == "badge":  # a name badge in a photo: small words on a busy background
        image = Image.effect_noise((1600, 1200), 40).convert("RGB")
        draw = ImageDraw.Draw(image)
        draw.rectangle((600, 500, 900, 600), fill=(250, 240, 200))
        draw.text((615, 530), name, font=ImageFont.load_default(size=34), fill="black")
        return image
    image = Image.new("RGB", (1600, 1000), (235, 235, 230))  # a whiteboard, turned and soft
    ImageDraw.Draw(image).text((150, 300), f"Star of the week: {name}", font=ImageFont.load_default(size=60), fill=(20, 40, 160))
    return image.rotate(4, fillcolor=(235, 235, 230)).filter(ImageFilter.GaussianBlur(1.2))


class Command(BaseCommand):
    help = "Measure the OCR, the language flags and the personal-data check."

    def handle(self, *args, **options):
        self.stdout.write(f"Text gates benchmark on this machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}.")
        self.corpus()
        self.ocr()
        self.language()
        self.hatecheck()
        self.school_language()
        self.reviewed_language()
        self.presidio()
        self.names()

    def corpus(self):
        names = personal_data.Names()
        with open(CORPUS_REGISTER, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                names.add(row["Legal Forename"], row["Legal Surname"], row["UPN"])
        with open(CORPUS, newline="", encoding="utf-8") as handle:
            posts = [(set(row["expect"].split()), row["text"]) for row in csv.DictReader(handle)]
        self.stdout.write(f"\n== Both gates on {len(posts)} labelled school posts (tests/data/posts.csv) ==")
        language.flags("warm up", "text")
        counts = {gate: {"tp": 0, "fp": 0, "fn": 0} for gate in ("no-personal-data", "respectful-language")}
        kinds_right, kinds_expected, misses = 0, 0, []
        started = time.perf_counter()
        for expected, text in posts:
            found = personal_data.find(text, "text", names) + language.flags(text, "text")
            for gate in counts:
                want = bool(expected - {"language"}) if gate == "no-personal-data" else "language" in expected
                got = any(f.gate == gate for f in found)
                counts[gate]["tp" if want and got else "fp" if got else "fn" if want else "tn"] = counts[gate].get("tp" if want and got else "fp" if got else "fn" if want else "tn", 0) + 1
            got_kinds = {f.kind for f in found}
            kinds_expected += len(expected)
            kinds_right += len(expected & got_kinds)
            if expected != got_kinds:
                misses.append(f"expected {sorted(expected) or 'nothing'}, found {sorted(got_kinds) or 'nothing'}: {text[:90]!r}")
        per_post = (time.perf_counter() - started) / len(posts)
        for gate, c in counts.items():
            precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
            recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
            self.stdout.write(f"  {gate:20} precision {precision:.2f}, recall {recall:.2f} "
                              f"({c['tp']} right, {c['fp']} false alarms, {c['fn']} missed)")
        self.stdout.write(f"  Kinds of finding right: {kinds_right}/{kinds_expected}. Posts not exactly as labelled: {len(misses)}")
        for miss in misses[:15]:
            self.stdout.write("    " + miss)
        image = picture("certificate", "Ava Smith").resize((4000, 3000))
        started = time.perf_counter()
        ocr.read(image)
        reading = time.perf_counter() - started
        self.stdout.write(f"  Seconds a post: {per_post * 1000:.1f} ms for the words; with OCR of one 12-megapixel photo "
                          f"{per_post + reading:.2f} s ({os.getloadavg()[0]:.1f} load).")

    def ocr(self):
        self.stdout.write("\n== Words inside pictures: RapidOCR (onnxruntime), 18 made-up pictures ==")
        ocr.read(Image.new("RGB", (64, 64), "white"))  # the models load once
        names = personal_data.Names()
        for i, name in enumerate(NAMES):
            names.add(name.split()[0], name.split()[1], f"U{i}")
        for kind in ("certificate", "badge", "whiteboard"):
            found, seconds = 0, 0.0
            for name in NAMES:
                image = picture(kind, name)
                started = time.perf_counter()
                lines = ocr.read(image)
                seconds += time.perf_counter() - started
                found += any(f.kind == "full-name" for line in lines for f in personal_data.find(line.text, "picture", names))
            self.stdout.write(f"  {kind:12} {found}/{len(NAMES)} full names found, {seconds / len(NAMES):.2f} s a picture")
        self.stdout.write(f"  Lines below a confidence of {ocr.OCR_MIN_CONFIDENCE} are dropped.")

    def language(self):
        with open(SAMPLES, newline="", encoding="utf-8") as handle:
            rows = [(row["flag"] == "yes", row["text"]) for row in csv.DictReader(handle)]
        self.stdout.write(f"\n== Respectful language: {len(rows)} labelled sentences (tests/language_samples.csv) ==")
        chosen = language.setting("LANGUAGE_FLAG_SCORE")
        for score in (0.3, 0.4, 0.5, 0.6):
            with self.settings(LANGUAGE_FLAG_SCORE=score):
                flagged = [(truth, bool(language.flags(text, "text"))) for truth, text in rows]
            caught = sum(1 for truth, f in flagged if truth and f)
            false_alarms = sum(1 for truth, f in flagged if f and not truth)
            mark = "  <- chosen" if score == chosen else ""
            self.stdout.write(f"  score {score}: {caught}/{sum(t for t, _ in rows)} flagged, {false_alarms} false alarms{mark}")
        started = time.perf_counter()
        for _ in range(10):
            language.flags(" ".join(text for _, text in rows), "text")
        self.stdout.write(f"  Scoring a {sum(len(t) for _, t in rows)}-character post: {(time.perf_counter() - started) * 100:.0f} ms.")

    @staticmethod
    def previous_flags(text):
        """The check as it was: alt-profanity-check on the words as written, at 0.4, and any accusing word."""
        parts = [language._mask(s, language.LANGUAGE_ALLOW) for s in language.sentences(text)]
        accusing = re.compile(r"\b(?:" + "|".join(map(re.escape, language.LANGUAGE_REVIEW_WORDS)) + r")\b", re.IGNORECASE)
        return bool(parts) and (max(language._scorer()(parts)) >= 0.4 or any(accusing.search(p) for p in parts))

    def hatecheck(self):
        with open(HATECHECK, newline="", encoding="utf-8") as handle:
            cases = list(csv.DictReader(handle))
        self.stdout.write(f"\n== Respectful language on HateCheck's {len(cases)} functional tests (Röttger et al. 2021, CC BY 4.0) ==")
        self.stdout.write("  Each figure: share flagged, now (previously: alt-profanity-check alone at 0.4 and accusing words).")
        started = time.perf_counter()
        now = [bool(language.flags(c["test_case"].strip(), "text")) for c in cases]
        per_case = (time.perf_counter() - started) / len(cases)
        before = [self.previous_flags(c["test_case"].strip()) for c in cases]

        def share(rows):
            n = len(rows) or 1
            return f"{sum(now[i] for i in rows) / n:5.0%} ({sum(before[i] for i in rows) / n:4.0%})"

        by_functionality = {}
        for i, case in enumerate(cases):
            by_functionality.setdefault(case["functionality"], []).append(i)
        hateful = [i for i, c in enumerate(cases) if c["label_gold"] == "hateful"]
        # The rules were written looking at the even-numbered templates only; the odd ones are held out.
        held_out = [i for i in hateful if int(cases[i]["templ_id"]) % 2]
        self.stdout.write(f"  Hateful cases caught: {share(hateful)} of {len(hateful)}; "
                          f"on the templates held out while the rules were written: {share(held_out)} of {len(held_out)}. Target 80%.")
        for name, rows in sorted(by_functionality.items()):
            hate = cases[rows[0]]["label_gold"] == "hateful"
            wanted = "should be flagged" if hate else "the policy asks for a look" if name in POLICY_WANTS_A_LOOK \
                else "must pass (target at most 5%)" if name in MUST_PASS else "better passed"
            self.stdout.write(f"    {name:20} {share(rows)} of {len(rows):3}  {wanted}")
        self.stdout.write("  Neutral and positive sentences about each group, flagged (target at most 5% for every group):")
        groups = {}
        for i, case in enumerate(cases):
            if case["functionality"] in MUST_PASS:
                groups.setdefault(case["target_ident"], []).append(i)
        for group, rows in sorted(groups.items()):
            self.stdout.write(f"    {group:16} {share(rows)} of {len(rows)}")
        self.stdout.write("  Hateful cases caught, by the group they attack:")
        for group in sorted(groups):
            rows = [i for i in hateful if cases[i]["target_ident"] == group]
            self.stdout.write(f"    {group:16} {share(rows)} of {len(rows)}")
        self.stdout.write(f"  {per_case * 1000:.1f} ms a sentence (target: a post stays under 20 ms).")

    def school_language(self):
        with open(SCHOOL_LANGUAGE, newline="", encoding="utf-8") as handle:
            rows = [(row["flag"] == "yes", row["text"]) for row in csv.DictReader(handle)]
        self.stdout.write(f"\n== Respectful language on {len(rows)} school sentences written to be tricky (tests/data/school_language.csv) ==")
        for name, check in (("now", lambda t: bool(language.flags(t, "text"))), ("previously", self.previous_flags)):
            got = [(want, check(text), text) for want, text in rows]
            caught = sum(1 for want, flagged, _ in got if want and flagged)
            alarms = [text for want, flagged, text in got if flagged and not want]
            missed = [text for want, flagged, text in got if want and not flagged]
            self.stdout.write(f"  {name:10} {caught}/{sum(w for w, _ in rows)} caught, {len(alarms)} false alarms")
            if name == "now":
                for text in alarms:
                    self.stdout.write(f"    false alarm: {text}")
                for text in missed:
                    self.stdout.write(f"    missed: {text}")

    def reviewed_language(self):
        with open(REVIEWED_LANGUAGE, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        self.stdout.write(f"\n== Respectful language on {len(rows)} school posts and parents' comments written and labelled by two "
                          "reviewers (tests/data/school_language_reviewed.csv) ==")
        self.stdout.write("  Hostile caught and everyday ones flagged, now (previously). The rules were changed after reading the "
                          "errors of the first three sets; the held-out set was run once before any change for it (19/37 "
                          "caught, 6/63 false alarms), then a few general fixes followed from its errors.")
        for name in dict.fromkeys(row["set"] for row in rows):
            part = [row for row in rows if row["set"] == name]
            now = [bool(language.flags(row["text"], "text")) for row in part]
            before = [self.previous_flags(row["text"]) for row in part]
            hostile = [i for i, row in enumerate(part) if row["flag"] == "yes"]
            everyday = [i for i, row in enumerate(part) if row["flag"] == "no"]
            self.stdout.write(
                f"  {name:26} caught {sum(now[i] for i in hostile):3}/{len(hostile)} ({sum(before[i] for i in hostile)}), "
                f"false alarms {sum(now[i] for i in everyday):3}/{len(everyday)} ({sum(before[i] for i in everyday)})"
            )

    def presidio(self):
        with open(PRESIDIO, newline="", encoding="utf-8") as handle:
            cases = list(csv.DictReader(handle))
        self.stdout.write(f"\n== Personal data on Microsoft Presidio's {len(cases)} recogniser test cases (MIT) ==")
        names = personal_data.Names()
        kinds = {}
        for case in cases:
            found = {f.kind for f in personal_data.find(case["text"], "text", names)}
            row = kinds.setdefault(case["kind"], {"caught": 0, "missed": 0, "alarms": 0, "negatives": 0, "positives": 0})
            if case["kind"] == "any-date":  # Presidio's dates are any dates; ours are dates of birth only
                row["positives"] += 1
                row["alarms"] += "date-of-birth" in found
            elif int(case["expected"]):
                row["positives"] += 1
                row["caught" if case["kind"] in found else "missed"] += 1
            else:
                row["negatives"] += 1
                row["alarms"] += case["kind"] in found
        for kind, row in sorted(kinds.items()):
            if kind == "any-date":
                self.stdout.write(f"  {'dates (not of birth)':20} {row['alarms']}/{row['positives']} reported as a date of birth")
            else:
                self.stdout.write(f"  {kind:20} {row['caught']}/{row['positives']} caught, "
                                  f"{row['alarms']}/{row['negatives']} that must not be found were found")

    def names(self):
        self.stdout.write("\n== Personal data: a 600-character post against 2,000 pupils (4,000 names) ==")
        names = personal_data.Names()
        for i in range(2000):
            names.add(f"Forename{i}", f"Surname{i}", f"U{i}")
            names.add(f"Preferred{i}", f"Surname{i}", f"U{i}")
        post = ("Year 6 had a wonderful week: Ava read her poem, Tom scored twice and Forename17 Surname17 won the "
                "spelling bee. Call 01632 960123 or visit 1 School Lane, CT1 2AB for tickets. ") * 4
        started = time.perf_counter()
        for _ in range(100):
            found = personal_data.find(post, "text", names)
        self.stdout.write(f"  {(time.perf_counter() - started) * 10:.1f} ms a check; {len(found)} findings.")

    def settings(self, **values):
        from django.test import override_settings

        return override_settings(**values)
