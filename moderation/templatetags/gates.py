from django import template

from moderation.gates.pipeline import PIPELINE

register = template.Library()

_TITLES = {gate.id: gate.title for gate in PIPELINE}


@register.filter
def gate_title(gate_id: str) -> str:
    """A check as people name it ("Consent for every face"); its id stays in the log and the page's markup."""
    return _TITLES.get(gate_id, gate_id)
