from moderation.gates.base import UNAVAILABLE, Gate, Outcome, failed, passed
from moderation.gates.not_yet_available import videos_waiting


def findings(content, school):
    """Every piece of personal data in what would be published, and the photos whose words
    could not be read (so were not checked)."""
    from moderation import personal_data

    names = personal_data.Names.from_register()
    allowed = school.own_address_parts
    found = personal_data.find(content.text, "text", names, allowed)
    found += personal_data.find(content.title, "title", names, allowed)
    unread = []
    for item in content.media:
        found += personal_data.find(item.alt_text, f"the description of '{item.original_name}'", names, allowed)
        if item.kind != "image":
            continue
        if not item.analysed:
            unread.append(item.analysis_note)
            continue
        if item.reading_error or not item.words_read:
            unread.append(f"{item.original_name}: {item.reading_error or 'its words have not been read yet; upload it again'}")
            continue
        for words in item.words:
            if words.blur:
                continue
            where = f"'{item.original_name}', in the picture"
            found += [
                personal_data.Finding(f.gate, f.kind, f.text, where, f.rule, box=words.box)
                for f in personal_data.find(words.text, where, names, allowed)
            ]
    return found, unread


class NoPersonalData(Gate):
    """Section 4.1: personal information about children and families is not shared; data protection, confidentiality.

    The text, the title, each photo's description and the words inside each photo hold no
    pupil's full name from the register, no phone number, email address, postcode, street
    address or date of birth. Words inside a photo can be blurred in the published copy instead.
    """

    id = "no-personal-data"
    title = "No personal data"

    def check(self, ctx):
        found, unread = findings(ctx.content, ctx.school)
        videos = videos_waiting(ctx.content, "words in videos")
        problems = [f.describe() for f in found] + unread
        if problems:
            fixes = []
            if any(f.box is None for f in found):
                fixes.append("Take it out of the words")
            if any(f.box is not None for f in found):
                fixes.append("blur the words inside the photo")
            return failed("; ".join(problems) + ". " + (" or ".join(fixes) + "." if fixes else "") + (f" {videos}" if videos else ""))
        if videos:
            return Outcome(UNAVAILABLE, videos)
        checked = ["the text"] + (["the title"] if ctx.content.title else [])
        pictures = sum(1 for item in ctx.content.media if item.kind == "image")
        if pictures:
            checked.append(f"the description and the words inside {pictures} photo{'s' if pictures != 1 else ''}")
        return passed("No full name of a pupil, phone number, email or postal address, postcode or date of birth in " + ", ".join(checked) + ".")


gate = NoPersonalData()
