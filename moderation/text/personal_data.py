"""Personal data in words: a pupil's full name from the register, a phone number, an email
address, a postcode, a street address, a date of birth.

Used by the `no-personal-data` gate on a draft's text, title and alt text and on the words read
inside its pictures, and by `check_text`. Each finding says what was found, where, and the rule.
"""

import re
import unicodedata
from dataclasses import dataclass, field

import phonenumbers

from consent.models import Pupil

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


# Inside a hashtag, each capital starts a word: "#StarOfTheWeekAmeliaSmith".
_HASHTAG_PART = re.compile(r"[A-Z][^\W\d_A-Z]*|[^\W\d_]+")


def words(text: str) -> list[Word]:
    folded, index = fold(text)
    found = []
    for m in _WORD.finditer(folded):
        word = m.group()
        start, end = index[m.start()], index[m.end() - 1] + 1
        if start > 0 and text[start - 1] == "#" and any(c.isupper() for c in text[start + 1:end]):
            for part in _HASHTAG_PART.finditer(text, start, end):
                found.append(Word(fold(part.group())[0], part.start(), part.end(), part.group()[0].isupper()))
            continue
        if word.endswith("'s"):
            word = word[:-2]
        found.append(Word(word, start, end, text[start].isupper()))
    return found


def _name_words(name: str) -> tuple[str, ...]:
    return tuple(w.folded for w in words(name or ""))


def _spellings(name: tuple[str, ...]) -> set[tuple[str, ...]]:
    """A name as it may be written without its apostrophes and hyphens: O'Neill, ONeill and O Neill;
    Rhys-Jones, RhysJones and Rhys Jones; Mary-Kate, MaryKate and Mary Kate."""
    joined = tuple(re.sub(r"['-]", "", w) for w in name)
    split = tuple(part for w in name for part in re.split(r"['-]", w) if part)
    return {name, joined, split}


# Words before a name that show it is an adult's: staff are named in school posts.
TITLES = {"mr", "mrs", "miss", "ms", "mx", "dr", "sir", "dame", "lady", "lord", "rev", "revd", "prof"}


@dataclass
class Names:
    """The full names of the register's pupils, ready to be looked for in text."""

    # first word -> [(the words written first, the words written after, the pupil's UPN, forename first?)]
    by_first: dict[str, list[tuple[tuple[str, ...], tuple[str, ...], str, bool]]] = field(default_factory=dict)

    def add(self, forename: str, surname: str, upn: str):
        for first in _spellings(_name_words(forename)):
            for last in _spellings(_name_words(surname)):
                if not first or not last:
                    continue
                self.by_first.setdefault(first[0], []).append((first, last, upn, True))
                self.by_first.setdefault(last[0], []).append((last, first, upn, False))

    @classmethod
    def from_register(cls) -> "Names":
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


def _shared_surname(text: str, ws: list[Word], k: int, surname: tuple[str, ...]) -> int | None:
    """Where a list of forenames that began just before ws[k] ends in `surname` (the index after
    it): "Oliver and Amelia Smith", read from "Oliver". At most five names in the list."""
    for _ in range(5):
        if k >= len(ws):
            return None
        gap = text[ws[k - 1].end:ws[k].start]
        if ws[k].folded == "and" and not ws[k].capital and re.fullmatch(r"\s*,?\s*", gap):
            k += 1  # "Oliver and …", "Amelia, Oliver and …"
            if k >= len(ws) or not re.fullmatch(r"\s+", text[ws[k - 1].end:ws[k].start]):
                return None
        elif not re.fullmatch(r"\s*[,&]\s*", gap):
            return None
        if not ws[k].capital:
            return None
        end = _follows(ws, k + 1, surname)
        if end is not None and re.fullmatch(r"\s+", text[ws[k].end:ws[k + 1].start]):
            return end
        k += 1
    return None


_OPENERS, _CLOSERS = "'\"‘“(", "'\"’”)"


def _set_off(word: Word, before: str, after: str) -> bool:
    """A middle word that belongs to the name though punctuation surrounds it: an initial with its
    full stop, or a nickname in quotes or brackets."""
    if len(word.folded) == 1 and re.fullmatch(r"\s+", before) and re.fullmatch(r"\.?\s+", after):
        return True
    return bool(re.fullmatch(r"\s+[" + re.escape(_OPENERS) + r"]", before) and re.fullmatch(r"[" + re.escape(_CLOSERS) + r"]\s+", after))


def full_names(text: str, where: str, names: Names) -> list[Finding]:
    ws = words(text)
    found, used = [], set()
    for i, w in enumerate(ws):
        for head, tail, _upn, forename_first in names.by_first.get(w.folded, ()):
            after_head = _follows(ws, i, head)
            if after_head is None:
                continue
            # "Ava Smith", "Smith Ava", "SMITH, Ava"; and one middle name: "Ava Grace Smith".
            end, middle = _follows(ws, after_head, tail), None
            if end is None and after_head < len(ws) and ws[after_head].capital:
                end = _follows(ws, after_head + 1, tail)
                middle = after_head if end is not None else None
            bracketed = False
            if end is not None and not forename_first and middle is None and re.fullmatch(r"\s*\(\s*", text[ws[after_head - 1].end:ws[after_head].start]):
                # "Smith (Ava)": the surname, then the forename in brackets.
                bracketed = bool(re.match(r"\s*\)", text[ws[end - 1].end:]))
                if not bracketed:
                    end = None
            if end is None and forename_first:
                # Forenames sharing one surname: "Oliver and Amelia Smith", "Amelia, Oliver and Noah Smith".
                shared = _shared_surname(text, ws, after_head, tail)
                if shared is not None:
                    if i not in used:
                        used.add(i)
                        found.append(Finding(
                            NO_PERSONAL_DATA, "full-name", f"{text[w.start:w.end]} … {text[ws[shared - len(tail)].start:ws[shared - 1].end]}",
                            where, "a pupil's full name (first name and surname) from the consent register",
                        ))
                    continue
            if end is None:
                continue
            gaps = [text[ws[k].end:ws[k + 1].start] for k in range(i, end - 1)]
            if middle is not None and _set_off(ws[middle], gaps[middle - i - 1], gaps[middle - i]):
                # A middle initial ("Richard M. Nixon") or a nickname ("Amelia 'Millie' Smith").
                gaps = [g for k, g in enumerate(gaps) if k not in (middle - i - 1, middle - i)]
            if bracketed:
                gaps = []
            if any(re.search(r"[^\s,]", gap) for gap in gaps):  # "Ava. Smith" or "Ava (Smith" are not one name
                continue
            if any("," in gap for gap in gaps) and (forename_first or not all(ws[k].capital for k in range(i, end))):
                continue  # a comma joins a name only as a register writes one: "SMITH, Ava"; "a lily, green beans" is not
            if i > 0 and ws[i - 1].folded.rstrip(".") in TITLES and not re.search(r"[^\s.]", text[ws[i - 1].end:w.start]):
                continue  # "Mrs Ava Smith": a member of staff
            if i in used:
                continue
            used.add(i)
            stop = ws[end - 1].end + (re.match(r"\s*\)", text[ws[end - 1].end:]).end() if bracketed else 0)
            found.append(Finding(
                NO_PERSONAL_DATA, "full-name", text[w.start:stop], where,
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
    r"(?:\d{1,2}[-\s/](?:" + _MONTHS + r")\.?[-\s/]\d{2,4}"  # 5-May-2021, 05 MAY 2021
    r"|\d{1,2}-(?:" + _MONTHS + r")\b"  # 21-May
    r"|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"
    r"|\d{1,2}[/.-]\d{4}"  # 05/2017: a month and a year
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


# The same written in lower case, for the street types that are not also ordinary words of
# school news ("14 mill lane"; never "3 lovely days at the park").
_ADDRESS_LOWER = re.compile(
    r"(?<![\w/])\d{1,4}[a-z]?,?\s+(?:[a-z][\w'’-]*\s+){1,2}(?:lane|road|street|avenue|close|drive|crescent|gardens|terrace|mews|grove)\b"
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
    addresses = [m for m in _ADDRESS.finditer(text)]
    addresses += [m for m in _ADDRESS_LOWER.finditer(text) if not any(a.start() <= m.start() < a.end() for a in addresses)]
    for m in addresses:
        if not ok(m.group()):
            found.append(Finding(NO_PERSONAL_DATA, "address", m.group().strip(), where, "a street address"))
    for m in _BIRTH.finditer(text):
        found.append(Finding(NO_PERSONAL_DATA, "date-of-birth", m.group(), where, "a date of birth"))
    return found


# --- Numbers a school holds about a person ------------------------------------------------------

# National Insurance number: two letters (not D, F, I, Q, U, V; the second not O; not the
# prefixes HMRC never issues), six digits, A to D (HMRC, "National Insurance Manual" NIM39110).
_NI = re.compile(r"(?<![A-Za-z0-9])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])",
                 re.IGNORECASE)
# NHS number: ten digits, often 3 3 4, whose last is a modulus 11 check digit (NHS Data Dictionary).
_NHS = re.compile(r"(?<![\d-])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\d-])")
# Unique Pupil Number: a letter, eleven digits, a digit or a letter (DfE, "Unique pupil numbers").
_UPN = re.compile(r"(?<![A-Za-z0-9])[A-Z]\d{11}[0-9A-Z](?![A-Za-z0-9])")
# A payment card: 13 to 19 digits, in groups or not, passing the Luhn check.
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")


def _nhs_valid(digits: str) -> bool:
    total = sum(int(d) * (10 - i) for i, d in enumerate(digits[:9]))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def _luhn(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def identifiers(text: str, where: str) -> list[Finding]:
    """National Insurance, NHS, pupil and card numbers."""
    found = []
    for m in _NI.finditer(text):
        found.append(Finding(NO_PERSONAL_DATA, "ni-number", m.group(), where, "a National Insurance number"))
    for m in _UPN.finditer(text):
        found.append(Finding(NO_PERSONAL_DATA, "upn", m.group(), where, "a Unique Pupil Number"))
    for m in _NHS.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if not digits.startswith("0") and _nhs_valid(digits):
            found.append(Finding(NO_PERSONAL_DATA, "nhs-number", m.group(), where, "an NHS number"))
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if not digits.startswith("0") and _luhn(digits) and digits[0] in "23456":
            found.append(Finding(NO_PERSONAL_DATA, "card-number", m.group(), where, "a payment card number"))
    return found


def find(text: str, where: str, names: Names, allowed=()) -> list[Finding]:
    """Every piece of personal data in text, in the order of the rules. A number found as an NHS
    or card number is reported as that, not also as a phone number."""
    if not text or not text.strip():
        return []
    numbers = identifiers(text, where)
    taken = {re.sub(r"\D", "", f.text) for f in numbers}
    phones = [f for f in phone_numbers(text, where, allowed) if re.sub(r"\D", "", f.text) not in taken]
    return full_names(text, where, names) + phones + numbers + other_personal_data(text, where, allowed)
