from moderation.gates.base import UNAVAILABLE, Gate, Outcome, passed


class NotYetAvailable(Gate):
    """A gate of the policy map that is not built yet. It fails closed on whatever it would check."""

    def __init__(self, gate_id, title, clause, needs, what, remedy):
        self.id, self.title, self._clause = gate_id, title, clause
        self._needs, self._what, self._remedy = needs, what, remedy

    @property
    def clause(self):
        return self._clause

    def check(self, ctx):
        if self._needs(ctx.content):
            return Outcome(
                UNAVAILABLE,
                f"This check is not yet available, so a draft with {self._what} cannot be published yet. {self._remedy}",
            )
        return passed(f"Nothing to check: this draft has no {self._what}.")


def videos_waiting(content, what: str) -> str:
    """TEMPORARY, FAIL CLOSED: checks of videos are not built yet. A message when the draft has one."""
    videos = [item.original_name for item in content.media if item.kind == "video"]
    if not videos:
        return ""
    return f"Checking {what} is not yet available, so a draft with a video ({', '.join(videos)}) cannot be published yet."
