"""Reading an MIS export of the register: bytes to checked rows, or every problem found.

Nothing here touches the database; consent/services.py compares the rows with the register
and writes. Row numbers are as the register keeper sees them in a spreadsheet: the headings are
row 1, the first pupil row 2.
"""

import csv
import datetime
import io
import re
from dataclasses import dataclass

from consent.profiles import OPTIONAL_FIELDS, REQUIRED_FIELDS

UPN_PATTERN = re.compile(r"[A-Z][0-9]{11}[0-9A-Z]")
YES = {"yes", "y", "true"}
NO = {"no", "n", "false"}
DATE_HINT = "(use dd/mm/yyyy or yyyy-mm-dd)"
MAX_LENGTHS = {"legal_forename": 100, "legal_surname": 100, "preferred_forename": 100, "year_group": 20}
YES_NO_FIELDS = ("facebook_consent", "youtube_consent", "biometric_consent", "objects_to_biometrics")
REFERENCE_LENGTH = 200
YEAR_HINT = "write 4 or Year 4, R or Reception, N or Nursery"
_YEAR_NUMBER = re.compile(r"(?:year|yr|y)?\s*(\d{1,2})")


def year_group(text: str) -> str:
    """A year group as the register keeps it ("Year 4", "Reception", "Nursery"), however the MIS
    wrote it: "4" and "Year 4" are the same year, so an export in the other style renames nobody.
    ValueError for anything else."""
    words = " ".join(text.split()).casefold()
    if not words:
        return ""
    if words in ("r", "rec", "reception"):
        return "Reception"
    if words in ("n", "nur", "nursery"):
        return "Nursery"
    match = _YEAR_NUMBER.fullmatch(words)
    if match and 1 <= int(match.group(1)) <= 14:
        return f"Year {int(match.group(1))}"
    raise ValueError(text)


@dataclass(frozen=True)
class Problem:
    """One reason a file cannot be imported, where the register keeper will find it."""

    row: int | None
    column: str | None
    message: str

    def __str__(self):
        if self.row and self.column:
            return f'row {self.row}, column "{self.column}": {self.message}'
        if self.row:
            return f"row {self.row}: {self.message}"
        return self.message


@dataclass(frozen=True)
class RegisterRow:
    row: int
    upn: str
    legal_forename: str
    legal_surname: str
    preferred_forename: str
    year_group: str
    facebook_consent: bool
    youtube_consent: bool
    consent_date: datetime.date | None
    consent_expires: datetime.date | None
    biometric_consent: bool
    objects_to_biometrics: bool
    consent_reference: str = ""
    biometric_reference: str = ""


class Unreadable(Exception):
    """The file is not CSV text we can read. The message says what to do."""


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without BOM), else Windows-1252, as MIS exports often are."""
    if not data.strip():
        raise Unreadable("The file is empty.")
    if data[:4] == b"PK\x03\x04" or data[:4] == b"\xd0\xcf\x11\xe0":
        raise Unreadable(
            "This is a spreadsheet workbook, not a CSV file. Open it in Excel and use "
            "File > Save As > 'CSV UTF-8 (comma delimited)', then upload that file."
        )
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise Unreadable(
            "This file is saved as 'Unicode text' (UTF-16). Save it as 'CSV UTF-8 (comma delimited)' and try again."
        )
    if b"\x00" in data:
        raise Unreadable("This is not a CSV file (it holds binary data). Export the register from the MIS as CSV.")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Unreadable(
        "The file's text is neither UTF-8 nor Windows-1252, so names could not be read correctly. "
        "Save it as 'CSV UTF-8 (comma delimited)' and try again."
    )


def parse_date(value: str) -> datetime.date:
    for pattern, order in ((r"(\d{1,2})/(\d{1,2})/(\d{4})", "dmy"), (r"(\d{4})-(\d{1,2})-(\d{1,2})", "ymd")):
        match = re.fullmatch(pattern, value)
        if match:
            numbers = dict(zip(order, map(int, match.groups())))
            return datetime.date(numbers["y"], numbers["m"], numbers["d"])  # ValueError if no such day
    raise ValueError(value)


def parse(text: str, profile: dict[str, str], *, today: datetime.date) -> tuple[list[RegisterRow], list[Problem]]:
    """Every row of the file, checked; and every problem, by row and column. Rows count only without problems."""
    problems: list[Problem] = []
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        return [], [Problem(None, None, f"The file could not be read as CSV: {error}.")]
    if not records or not any(cell.strip() for cell in records[0]):
        return [], [Problem(1, None, "The first row must hold the column headings, and it is empty.")]

    headings = [cell.strip() for cell in records[0]]
    where = {}  # field -> index of its column
    by_heading = {}
    for index, heading in enumerate(headings):
        by_heading.setdefault(heading.casefold(), []).append(index)
    for field, heading in profile.items():
        found = by_heading.get(heading.casefold(), [])
        if len(found) > 1:
            problems.append(Problem(1, heading, "this column appears more than once"))
        elif found:
            where[field] = found[0]
        elif field in REQUIRED_FIELDS:
            problems.append(Problem(1, heading, "this column is missing"))
    if not where:
        hint = ""
        if len(headings) == 1 and (";" in headings[0] or "\t" in headings[0]):
            hint = " The columns seem to be separated by semicolons or tabs: save the file as 'CSV (comma delimited)'."
        problems.insert(0, Problem(None, None, "None of the expected column headings is in the first row: is this the "
                                               "register export, and is the right column profile chosen?" + hint))
        return [], problems

    complete = all(field in where for field in REQUIRED_FIELDS)
    rows, first_seen = [], {}
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue  # a blank line, or a row of empty cells
        if len(record) > len(headings):
            extra = record[len(headings):]
            if any(cell.strip() for cell in extra):
                problems.append(Problem(number, None, f"this row has {len(record)} cells but there are only {len(headings)} column headings "
                                                      "(a comma inside a name, perhaps?)"))
                continue
        row_problems: list[Problem] = []
        values = {}
        for field, index in where.items():
            values[field] = record[index].strip() if index < len(record) else ""

        def problem(field, message, number=number, row_problems=row_problems):
            row_problems.append(Problem(number, profile[field], message))

        upn = values.get("upn", "").upper().replace(" ", "")
        if "upn" in where:
            if not upn:
                problem("upn", "the UPN is empty")
            elif not UPN_PATTERN.fullmatch(upn):
                problem("upn", f'"{values["upn"]}" is not a UPN (13 characters: a letter, 11 digits, then a digit or a letter)')
            elif upn in first_seen:
                problem("upn", f"{upn} appears more than once (also on row {first_seen[upn]})")
            else:
                first_seen[upn] = number

        for field in ("legal_forename", "legal_surname"):
            if field in where and not values[field]:
                problem(field, "this must not be empty")
        for field, limit in MAX_LENGTHS.items():
            if len(values.get(field, "")) > limit:
                problem(field, f"this is longer than {limit} characters")

        if "year_group" in where:
            try:
                values["year_group"] = year_group(values["year_group"])
            except ValueError:
                problem("year_group", f'"{values["year_group"]}" is not a year group: {YEAR_HINT}')

        flags = {}
        for field in YES_NO_FIELDS:
            if field not in where:
                continue
            word = values[field].casefold()
            if word in YES:
                flags[field] = True
            elif word in NO:
                flags[field] = False
            elif not word:
                problem(field, "this is empty: write Yes or No")
            else:
                problem(field, f'"{values[field]}" is not Yes or No')

        dates = {}
        for field in ("consent_date", "consent_expires"):
            if field in where and values[field]:
                try:
                    dates[field] = parse_date(values[field])
                except ValueError:
                    problem(field, f'"{values[field]}" is not a date {DATE_HINT}')
        if "consent_date" in where:
            given = [field for field in ("facebook_consent", "youtube_consent", "biometric_consent") if flags.get(field)]
            if given and not values["consent_date"]:
                problem("consent_date", "the consent date is empty, but the row says Yes to consent")
            if dates.get("consent_date") and dates["consent_date"] > today:
                problem("consent_date", f'"{values["consent_date"]}" is in the future')
        if dates.get("consent_date") and dates.get("consent_expires") and dates["consent_expires"] < dates["consent_date"]:
            problem("consent_expires", f'"{values["consent_expires"]}" is before the consent date')
        for field in OPTIONAL_FIELDS:
            if len(values.get(field, "")) > REFERENCE_LENGTH:
                problem(field, f"this is longer than {REFERENCE_LENGTH} characters")

        problems.extend(row_problems)
        if not row_problems and complete:
            rows.append(RegisterRow(
                row=number, upn=upn,
                legal_forename=values["legal_forename"], legal_surname=values["legal_surname"],
                preferred_forename=values["preferred_forename"], year_group=values["year_group"],
                consent_date=dates.get("consent_date"), consent_expires=dates.get("consent_expires"),
                consent_reference=values.get("consent_reference", ""), biometric_reference=values.get("biometric_reference", ""),
                **flags,
            ))
    if not rows and not problems:
        problems.append(Problem(None, None, "The file has column headings but no pupils."))
    return rows, problems
