from moderation.gates.base import Gate, failed, passed
from moderation.models import Draft

MIN_OUTCOME_WORDS = 3


class ClearObjective(Gate):
    """Section 5: "clear educational or community engagement objectives and with specific intended outcomes".

    The draft states its objective (educational or community engagement) and an intended
    outcome in words.
    """

    id = "clear-objective"
    title = "Clear objective"

    def check(self, ctx):
        draft = ctx.draft
        problems = []
        if draft.objective not in Draft.Objective.values:
            problems.append("choose its objective (educational or community engagement)")
        if len(draft.intended_outcome.split()) < MIN_OUTCOME_WORDS:
            problems.append(f"describe its intended outcome in words (at least {MIN_OUTCOME_WORDS})")
        if problems:
            return failed("Edit the draft to " + " and ".join(problems) + ".")
        return passed(f"{Draft.Objective(draft.objective).label}: {draft.intended_outcome.strip()}")


gate = ClearObjective()
