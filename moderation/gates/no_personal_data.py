from config.school.files import sha256_of
from moderation.gates.base import Gate, failed, passed
from moderation.models import MediaFile
from moderation.publishing import video_copies
from moderation.publishing.video_copies import read_every
from moderation.text import personal_data
from pixels import imaging, ocr, photos, video_copy


def findings(content, school):
    """Every piece of personal data in what would be published, and the photos whose words
    could not be read (so were not checked)."""
    names = personal_data.Names.from_register()
    allowed = school.own_contact_details
    found = personal_data.find(content.text, "text", names, allowed)
    found += personal_data.find(content.title, "title", names, allowed)
    unread = []
    for item in content.media:
        found += personal_data.find(item.alt_text, f"the description of '{item.original_name}'", names, allowed)
        if item.kind == "video" and item.analysed:
            found += _thumbnail_findings(item, names, allowed)
        if item.words_not_checkable:
            unread.append(item.words_not_checkable)
            continue
        for words in item.words:
            if words.blur:
                continue
            where = f"'{item.original_name}', in the picture"
            if words.time is not None:
                where = f"'{item.original_name}', on screen at {int(words.time // 60)}:{words.time % 60:04.1f}"
            found += [
                personal_data.Finding(f.gate, f.kind, f.text, where, f.rule, box=words.box)
                for f in personal_data.find(words.text, where, names, allowed)
            ]
        try:
            if item.kind == "image":
                found += _published_copy_findings(item, names, allowed, found)
            else:
                found += _published_video_findings(item, names, allowed, found)
        except Exception as error:  # fail closed: what goes out was not read
            unread.append(f"{item.original_name}: the words in its published copy could not be read ({error})")
    return found, unread


def _published_video_findings(item, names, allowed, already):
    """The words readable in the video as it is published, after its blurs: read by the worker
    when it made the copy the approver watches; at publishing, read again unless the copy sent
    is that very file."""
    media = MediaFile.objects.filter(pk=item.media_id).first()
    made = video_copies.current(media) if media is not None else None
    if item.path == item.source_path:  # before publishing
        lines = video_copies.words(media) if media is not None else None
        if lines is None:
            return []  # the copy is being made; publishing reads the copy it sends in any case
    elif made is not None and sha256_of(made) == sha256_of(item.path):  # read in blocks: a video can be 200 MB
        lines = media.copy_words
    else:
        lines = video_copies.read_words(item.path)
    seen = {(f.kind, f.text.casefold()) for f in already}
    out = []
    for at, text, *box in lines:
        where = f"'{item.original_name}', readable in its published copy at {int(at // 60)}:{at % 60:04.1f}"
        for f in personal_data.find(text, where, names, allowed):
            if (f.kind, f.text.casefold()) not in seen:
                seen.add((f.kind, f.text.casefold()))
                out.append(personal_data.Finding(f.gate, f.kind, f.text, where, f.rule, box=tuple(box)))
    return out


def _published_copy_findings(item, names, allowed, already):
    """The words readable in the photo as it is published, after its blurs: a blur that left
    part of a name readable is caught here. Without blurs the published pixels are the
    original's, whose words were read at analysis; at publishing the copy is always read."""
    blurs = [f.box for f in item.faces if f.blur] + [w.box for w in item.words if w.blur]
    at_publishing = item.path != item.source_path
    if not blurs and not at_publishing:
        return []
    if at_publishing:
        picture = photos.load_image(item.path)
    else:
        picture = imaging.published_pixels(photos.load_image(item.source_path), blurs)
    seen = {(f.kind, f.text.casefold()) for f in already}
    where = f"'{item.original_name}', readable in its published copy (after blurs)"
    out = []
    for line in ocr.read(picture):
        for f in personal_data.find(line.text, where, names, allowed):
            if (f.kind, f.text.casefold()) not in seen:
                seen.add((f.kind, f.text.casefold()))
                out.append(personal_data.Finding(f.gate, f.kind, f.text, where, f.rule, box=line.box))
    return out


def _thumbnail_findings(item, names, allowed):
    """The words in the video's thumbnail, read as in a photo: they are fixed by choosing another frame."""
    where = f"the thumbnail of '{item.original_name}' (choose another frame)"
    return [
        personal_data.Finding(f.gate, f.kind, f.text, where, f.rule)
        for line in ocr.read(video_copy.thumbnail(item, read_every()))
        for f in personal_data.find(line.text, where, names, allowed)
    ]


class NoPersonalData(Gate):
    """Section 4.1: personal information about children and families is not shared; data protection, confidentiality.

    The text, the title, each photo's or video's description and the words shown inside each
    photo and video hold no pupil's full name from the register, no phone number, email address,
    postcode, street address or date of birth. Words inside a picture can be blurred in the
    published copy instead.
    """

    id = "no-personal-data"
    title = "No personal data"

    def check(self, ctx):
        found, unread = findings(ctx.content, ctx.school)
        problems = [f.describe() for f in found] + unread
        if problems:
            fixes = []
            if any(f.box is None for f in found):
                fixes.append("Take it out of the words")
            if any(f.box is not None for f in found):
                fixes.append("blur the words inside the photo or video")
            return failed("; ".join(problems) + ". " + (" or ".join(fixes) + "." if fixes else ""))
        checked = ["the text"] + (["the title"] if ctx.content.title else [])
        pictures = sum(1 for item in ctx.content.media if item.kind == "image")
        videos = sum(1 for item in ctx.content.media if item.kind == "video")
        if pictures:
            checked.append(f"the description and the words inside {pictures} photo{'s' if pictures != 1 else ''}")
        if videos:
            checked.append(f"the description and the words shown in {videos} video{'s' if videos != 1 else ''}")
        return passed("No full name of a pupil, phone number, email or postal address, postcode or date of birth in " + ", ".join(checked) + ".")


gate = NoPersonalData()
