"""Personal data in words: a pupil's full name from the register, a phone number, an email
address, a postcode, a street address, a date of birth.

Used by the `no-personal-data` gate on a draft's text, title and alt text and on the words read
inside its pictures, and by `check_text`. Each finding says what was found, where, and the rule.
"""

import re
import unicodedata
from dataclasses import dataclass, field

import phonenumbers

NO_PERSONAL_DATA = "no-personal-data"
RESPECTFUL_LANGUAGE = "respectful-language"


@dataclass(frozen=True)
class Finding:
    gate: str
    kind: str  # full-name, phone, email, postcode, address, date-of-birth, language
    text: str  # as written
    where: str  # "text", "title", "alt text of 'x.jpg'", "'x.jpg', in the picture"
    rule: str
    box: tuple[int, int, int, int] | None = None  # (top, right, bottom, left) inside a picture
    score: float | None = None

    def describe(self) -> str:
        where = self.where
        if self.box is not None:
            top, right, bottom, left = self.box
            where += f", the region from ({left}, {top}) to ({right}, {bottom})"
        return f"{self.rule}: “{self.text}” ({where})"


# --- Folding text so that names match whatever their case, accents and apostrophes -----------

# Letters that Unicode does not decompose into a base letter and an accent.
_LETTERS = {"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i"}
_APOSTROPHES = {"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'", "′": "'"}
_HYPHENS = {"‐": "-", "‑": "-", "–": "-"}


def fold(text: str) -> tuple[str, list[int]]:
    """Lower case, without diacritics, with plain apostrophes; and for each character of the
    result, the index of the character of text it came from."""
    out, index = [], []
    for i, ch in enumerate(text):
        for part in unicodedata.normalize("NFKD", ch):
            if unicodedata.combining(part):
                continue
            part = _APOSTROPHES.get(part, _HYPHENS.get(part, part))
            for c in part.casefold():
                c = _LETTERS.get(c, c)
                out.append(c)
                index.extend([i] * (len(c) - 1) + [i])
    return "".join(out), index


_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")


@dataclass(frozen=True)
class Word:
    folded: str  # possessive 's taken off
    start: int  # in the original text
    end: int
    capital: bool  # starts with a capital letter in the original


def words(text: str) -> list[Word]:
    folded, index = fold(text)
    found = []
    for m in _WORD.finditer(folded):
        word = m.group()
        if word.endswith("'s"):
            word = word[:-2]
        start, end = index[m.start()], index[m.end() - 1] + 1
        found.append(Word(word, start, end, text[start].isupper()))
    return found


def _name_words(name: str) -> tuple[str, ...]:
    return tuple(w.folded for w in words(name or ""))


# Words before a name that show it is an adult's: staff are named in school posts.
TITLES = {"mr", "mrs", "miss", "ms", "mx", "dr", "sir", "dame", "lady", "lord", "rev", "revd", "prof"}


@dataclass
class Names:
    """The full names of the register's pupils, ready to be looked for in text."""

    # first word -> [(every word of the name, surname first?, the pupil's UPN)]
    by_first: dict[str, list[tuple[tuple[str, ...], tuple[str, ...], str]]] = field(default_factory=dict)

    def add(self, forename: str, surname: str, upn: str):
        last = _name_words(surname)
        first = _name_words(forename)
        if not first or not last:
            return
        self.by_first.setdefault(first[0], []).append((first, last, upn))
        self.by_first.setdefault(last[0], []).append((last, first, upn))

    @classmethod
    def from_register(cls) -> "Names":
        from consent.models import Pupil

        names = cls()
        # Left pupils too: their names are no less personal once they have left.
        for legal, preferred, surname, upn in Pupil.objects.values_list("legal_forename", "preferred_forename", "legal_surname", "upn"):
            names.add(legal, surname, upn)
            if preferred and _name_words(preferred) != _name_words(legal):
                names.add(preferred, surname, upn)
        return names


def _follows(ws: list[Word], i: int, expected: tuple[str, ...]) -> int | None:
    """The index after expected, when ws[i:] starts with it."""
    if tuple(w.folded for w in ws[i:i + len(expected)]) == expected:
        return i + len(expected)
    return None


def full_names(text: str, where: str, names: Names) -> list[Finding]:
    ws = words(text)
    found, used = [], set()
    for i, w in enumerate(ws):
        for head, tail, _upn in names.by_first.get(w.folded, ()):
            after_head = _follows(ws, i, head)
            if after_head is None:
                continue
            # "Ava Smith", "Smith Ava", "SMITH, Ava"; and one middle name: "Ava Grace Smith".
            end = _follows(ws, after_head, tail)
            if end is None and after_head < len(ws) and ws[after_head].capital:
                end = _follows(ws, after_head + 1, tail)
            if end is None:
                continue
            gaps = [text[ws[k].end:ws[k + 1].start] for k in range(i, end - 1)]
            if any(re.search(r"[^\s,]", gap) for gap in gaps):  # "Ava. Smith" or "Ava (Smith" are not one name
                continue
            if i > 0 and ws[i - 1].folded.rstrip(".") in TITLES and not re.search(r"[^\s.]", text[ws[i - 1].end:w.start]):
                continue  # "Mrs Ava Smith": a member of staff
            if i in used:
                continue
            used.add(i)
            found.append(Finding(
                NO_PERSONAL_DATA, "full-name", text[w.start:ws[end - 1].end], where,
                "a pupil's full name (first name and surname) from the consent register",
            ))
    return found


# --- Phone numbers, email addresses, postcodes, street addresses, dates of birth ---------------

# A letter stuck to a digit (OCR often loses the space: "Call01234 567890") hides a number from
# the phone number matcher, which wants a word boundary.
_STUCK = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


def _same_numbers(allowed) -> set[str]:
    """The allowed texts that are phone numbers, as E.164, so that any way of writing one matches."""
    numbers = set()
    for text in allowed:
        try:
            number = phonenumbers.parse(text, "GB")
        except phonenumbers.NumberParseException:
            continue
        numbers.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return numbers


def phone_numbers(text: str, where: str, allowed=()) -> list[Finding]:
    found = []
    own = _same_numbers(allowed)
    spaced = _STUCK.sub(" ", text)
    # Numbers in use (VALID), and numbers of a full length that are not (yet) allocated, such
    # as Ofcom's ranges for drama: a person may still answer one. Shorter possible numbers
    # ("2026", "1234 5678") are years and references.
    for match in phonenumbers.PhoneNumberMatcher(spaced, "GB", leniency=phonenumbers.Leniency.POSSIBLE):
        digits = sum(c.isdigit() for c in match.raw_string)
        if phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164) in own:
            continue  # the school's own number
        if phonenumbers.is_valid_number(match.number) or digits >= 10:
            found.append(Finding(NO_PERSONAL_DATA, "phone", match.raw_string, where, "a phone number"))
    return found


_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# A UK postcode in the format Royal Mail publishes (outward code, space, inward code). The
# letters each position may take are restricted as Royal Mail restricts them.
_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])(?:GIR ?0AA|[A-PR-UWYZ](?:[A-HK-Y]?\d[A-Z\d]?|\d[A-HJKPSTUW]|[A-HK-Y]\d[ABEHMNPRV-Y]) ?\d[ABD-HJLNP-UW-Z]{2})(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_STREET_TYPES = (
    "Road|Rd|Street|St|Avenue|Ave|Lane|Ln|Close|Cl|Drive|Dr|Way|Crescent|Cres|Court|Ct|Gardens|Gdns|Place|Pl|"
    "Grove|Gr|Terrace|Terr|Hill|Mews|Rise|Walk|Square|Sq|Row|Parade|Green|View|Park|Vale|Wharf|Yard|Croft|Meadow|Meadows"
)
# A house number, then one to three capitalised words, then a street type: "12 Acacia Avenue",
# "Flat 3, 45a High Street". Capitals are required so that "3 lovely days at the park" is not one.
_ADDRESS = re.compile(
    r"(?<![\w/])\d{1,4}[A-Za-z]?,?\s+(?:[A-Z][\w'’-]*\s+){1,3}(?:" + _STREET_TYPES + r"|" + _STREET_TYPES.upper() + r")\b\.?"
)
_MONTHS = "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"
    r"|\d{4}-\d{1,2}-\d{1,2}"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:" + _MONTHS + r")\.?(?:,?\s+\d{4})?"
    r"|(?:" + _MONTHS + r")\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?"
    r"|(?:" + _MONTHS + r")\.?\s+\d{4})"
)
_BIRTH = re.compile(
    r"\b(?:born(?:\s+on|\s+in)?|d\.?\s?o\.?\s?b\.?|date\s+of\s+birth|birth\s*date|birthday(?:\s+is|\s+on|\s+was)?)\s*[:,-]?\s*(?:the\s+)?"
    + _DATE + r"(?![\d])",
    re.IGNORECASE,
)


def other_personal_data(text: str, where: str, allowed=()) -> list[Finding]:
    """Emails, postcodes, street addresses and dates of birth; allowed: texts that are fine
    (the school's own postcode and address)."""
    allowed_folded = {fold(a)[0].replace(" ", "") for a in allowed}

    def ok(value):
        return fold(value)[0].replace(" ", "") in allowed_folded

    found = []
    for m in _EMAIL.finditer(text):
        if not ok(m.group()):
            found.append(Finding(NO_PERSONAL_DATA, "email", m.group(), where, "an email address"))
    for m in _POSTCODE.finditer(text):
        if not ok(m.group()):
            found.append(Finding(NO_PERSONAL_DATA, "postcode", m.group(), where, "a postcode"))
    for m in _ADDRESS.finditer(text):
        if not ok(m.group()):
            found.append(Finding(NO_PERSONAL_DATA, "address", m.group().strip(), where, "a street address"))
    for m in _BIRTH.finditer(text):
        found.append(Finding(NO_PERSONAL_DATA, "date-of-birth", m.group(), where, "a date of birth"))
    return found


def find(text: str, where: str, names: Names, allowed=()) -> list[Finding]:
    """Every piece of personal data in text, in the order of the rules."""
    if not text or not text.strip():
        return []
    return full_names(text, where, names) + phone_numbers(text, where, allowed) + other_personal_data(text, where, allowed)
