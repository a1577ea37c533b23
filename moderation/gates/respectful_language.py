from config.school.people import display_name
from moderation.gates.base import Gate, failed, passed, waiting
from moderation.text import language


def flags(content):
    return flags_in(content.text, content.title, [(item.original_name, item.alt_text) for item in content.media])


def flags_in(text, title, descriptions):
    """The flags in a post's words; descriptions: [(file name, its description)]."""
    found = language.flags(text, "text") + language.flags(title, "title")
    for name, description in descriptions:
        found += language.flags(description, f"the description of '{name}'")
    return found


class RespectfulLanguage(Gate):
    """Section 3: nothing threatening, hurtful or defamatory.

    Sentences that may be threatening, hurtful, profane or defamatory are flagged for the
    reviewing colleague, who confirms each one as a false alarm, in words, or as abusive. A
    draft with a sentence confirmed as abusive cannot be approved.
    """

    id = "respectful-language"
    title = "Respectful language"
    reviewed_by_person = True

    def check(self, ctx):
        found = flags(ctx.content)
        if not found:
            return passed("Nothing threatening, hurtful, profane or defamatory was found in the words.")
        reviews = {(r.where, r.sentence): r for r in ctx.draft.language_reviews.select_related("decided_by")}
        abusive, undecided, cleared = [], [], []
        for flag in found:
            review = reviews.get((flag.where, flag.text))
            if review is None:
                undecided.append(f"“{flag.text}” ({flag.where}): {flag.rule}")
            elif review.verdict == review.Verdict.ABUSIVE:
                abusive.append(f"“{flag.text}” ({flag.where}), judged abusive by {display_name(review.decided_by)}")
            else:
                cleared.append(f"“{flag.text}”: a false alarm for {display_name(review.decided_by)} ({review.reason})")
        if abusive:
            return failed("; ".join(abusive) + ". Change the words: this draft cannot be approved as it is.")
        if undecided:
            return waiting("; ".join(undecided) + ". The reviewing colleague must say, in words, why each is a false alarm, or judge it abusive.")
        return passed("Flagged and confirmed as false alarms: " + "; ".join(cleared) + ".")


gate = RespectfulLanguage()
