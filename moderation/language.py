"""Language a person must look at before a post goes out: threatening, hurtful, profane or
defamatory.

Each sentence is scored by alt-profanity-check (a linear model trained on offensive and abusive
messages); a sentence at or above LANGUAGE_FLAG_SCORE is flagged. Words that accuse someone
(LANGUAGE_REVIEW_WORDS) are flagged too: defamation is about facts, not tone, and no model
scores it. Phrases of LANGUAGE_ALLOW (place names, pantomime titles) are taken out of a sentence
before it is scored. All three are settings; the defaults below were chosen on the samples in
tests/language_samples.csv (`python manage.py bench_text` prints the figures).

A flag is never a verdict: the approver confirms it as a false alarm, in words, or as abusive.
"""

import re
import threading
import warnings

from django.conf import settings

from moderation.personal_data import RESPECTFUL_LANGUAGE, Finding

LANGUAGE_FLAG_SCORE = 0.4
LANGUAGE_ALLOW = (
    "Dick Whittington", "Scunthorpe", "Penistone", "Middlesex", "Sussex", "Essex", "Wessex", "Cockermouth",
    "Shitterton", "Twatt", "Clitheroe", "Bitchfield", "Crapstone", "Cockfosters",
    "Moby Dick", "Dick King-Smith", "Spotted Dick", "bum bag", "Great Tits", "Blue Tits", "blue tit", "great tit",
)
LANGUAGE_REVIEW_WORDS = (
    "thief", "thieves", "stole", "stolen", "steal", "stealing", "liar", "lied", "lying", "fraud", "fraudster", "criminal",
    "corrupt", "abuser", "abused", "paedophile", "pedophile", "groomer", "drunk", "racist", "bully", "bullied", "cheat",
    "cheated", "arrested", "sacked",
)

_model_lock = threading.Lock()
_predict = None


def setting(name):
    return getattr(settings, name, globals()[name])


def _scorer():
    """alt-profanity-check's predict_prob, loaded once (about half a second)."""
    global _predict
    with _model_lock:
        if _predict is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # scikit-learn version notes about the pickled model
                from profanity_check import predict_prob
            _predict = predict_prob
        return _predict


def warm_up() -> None:
    """Load the model now (the web server does it at start), so that no request waits for it."""
    _scorer()([""])


# A sentence ends at . ! or ? followed by a space, or at a line break: not at the dots of an
# email address, a web address or "1.30pm".
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text or "") if s.strip()]


def _mask(sentence: str, allowed) -> str:
    for phrase in allowed:
        sentence = re.sub(re.escape(phrase), " ", sentence, flags=re.IGNORECASE)
    return sentence


def flags(text: str, where: str) -> list[Finding]:
    """Each sentence of text that a person must look at, with why."""
    parts = sentences(text)
    if not parts:
        return []
    allowed = tuple(setting("LANGUAGE_ALLOW"))
    masked = [_mask(s, allowed) for s in parts]
    scores = _scorer()(masked)
    threshold = float(setting("LANGUAGE_FLAG_SCORE"))
    accusing = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in setting("LANGUAGE_REVIEW_WORDS")) + r")\b", re.IGNORECASE)
    found = []
    for sentence, clean, score in zip(parts, masked, scores):
        accusation = accusing.search(clean)
        if score >= threshold:
            rule = f"may be threatening, hurtful or profane (score {score:.2f} of 1)"
        elif accusation:
            rule = f"says that someone is or did something (“{accusation.group()}”): it may be defamatory"
        else:
            continue
        found.append(Finding(RESPECTFUL_LANGUAGE, "language", sentence, where, rule, score=round(float(score), 3)))
    return found
