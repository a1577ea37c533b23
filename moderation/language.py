"""Language a person must look at before a post goes out: threatening, hurtful, profane or
defamatory.

Each sentence is checked three ways, after the phrases of LANGUAGE_ALLOW (place names, titles of
books and pantomimes) are taken out of it:

1. `hostility.find`: threats, dehumanising words, contempt for people and slurs, with words
   naming who someone is taken out first (a school's equality duty: "gay" or "Muslim" is never
   what flags a sentence) and disguises undone ("k1ll", "k i l l", "Ihate").
2. alt-profanity-check (a linear model trained on offensive and abusive messages, whose weights
   ship in its package) scores the same neutral wording; at or above LANGUAGE_FLAG_SCORE the
   sentence is flagged as profane or hurtful.
3. Words that accuse a person (LANGUAGE_REVIEW_WORDS): defamation is about facts, not tone, and
   no model scores it. Only an accusation about an individual ("Mr Brown stole", "the caretaker
   is a liar") is flagged, not history ("the Vikings stole their treasure").

All lists and the score are settings; `python manage.py bench_text` prints how the defaults do on
HateCheck's functional tests and on school posts.

A flag is never a verdict: the approver confirms it as a false alarm, in words, or as abusive.
"""

import re
import threading
import warnings

from django.conf import settings

from moderation import hostility
from moderation.personal_data import RESPECTFUL_LANGUAGE, Finding

LANGUAGE_FLAG_SCORE = 0.4
LANGUAGE_ALLOW = (
    "Dick Whittington", "Scunthorpe", "Penistone", "Middlesex", "Sussex", "Essex", "Wessex", "Cockermouth",
    "Shitterton", "Twatt", "Clitheroe", "Bitchfield", "Crapstone", "Cockfosters",
    "Moby Dick", "Dick King-Smith", "Spotted Dick", "bum bag", "Great Tits", "Blue Tits", "blue tit", "great tit",
    "The Owl and the Pussy-cat", "Pussy-cat", "pussycat", "Puss in Boots", "Sheep-Pig", "Sheep Pig",
    "Kill Bill", "To Kill a Mockingbird", "Stig of the Dump", "The Twits", "Horrid Henry",
)
LANGUAGE_REVIEW_WORDS = (
    "thief", "thieves", "stole", "stolen", "steal", "stealing", "liar", "lied", "lying", "fraud", "fraudster", "criminal",
    "corrupt", "abuser", "abused", "paedophile", "pedophile", "groomer", "drunk", "racist", "bully", "bullied", "cheat",
    "cheated", "arrested", "sacked", "paedo", "nonce", "molester", "predator",
)
# An accusation is defamatory only of someone who can be identified: a pronoun, a title, a role
# in the school or a name just before the accusing words. Not "the Vikings" or "someone".
_INDIVIDUAL = re.compile(
    r"\b(?:he|she|him|her|his|you|your|Mr|Mrs|Ms|Miss|Mx|Dr|Sir|Dame|Rev|Cllr)\b"
    r"|\b(?:the|that|this|our|your|their|my|a)\s+(?:new\s+|old\s+|deputy\s+|assistant\s+)?(?:head|headteacher|head\s+teacher|"
    r"principal|teacher|TA|caretaker|cook|cleaner|governor|chair|coach|parent|mum|mom|dad|mother|father|man|woman|lady|bloke|"
    r"boy|girl|kid|child|pupil|lad|neighbour|driver|receptionist|secretary|manager|vicar|councillor|nurse|doctor|coach)\b",
    re.IGNORECASE,
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
    """Load the model and the dictionary now (the web server does it at start), so that no
    request waits for them."""
    _scorer()([""])
    hostility.warm_up()


# A sentence ends at . ! or ? followed by a space, or at a line break: not at the dots of an
# email address, a web address or "1.30pm".
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text or "") if s.strip()]


def _mask(sentence: str, allowed) -> str:
    for phrase in allowed:
        sentence = re.sub(re.escape(phrase), " ", sentence, flags=re.IGNORECASE)
    return sentence


def _accuses_someone(sentence: str, words: re.Pattern):
    accusation = words.search(sentence)
    if accusation is None:
        return None
    # A name just before the accusation: "Jack Brown stole", "Sam is a liar"; not "The Romans stole".
    named = re.search(r"(?<![Tt]he )\b(?!(?:The|A|An|Our|Their|Some|Someone|Somebody|Everyone|Everybody|Nobody|Anyone|They|We|"
                      r"It|This|That|These|Those|Year)\b)[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?\s+(?:(?:is|was|has|had|'s)\s+)?"
                      r"(?:(?:a|an|the)\s+)?" + re.escape(accusation.group()), sentence)
    if named or _INDIVIDUAL.search(sentence[:accusation.start()]) or _INDIVIDUAL.search(sentence):
        return accusation
    return None


def flags(text: str, where: str) -> list[Finding]:
    """Each sentence of text that a person must look at, with why."""
    parts = sentences(text)
    if not parts:
        return []
    allowed = tuple(setting("LANGUAGE_ALLOW"))
    masked = [_mask(s, allowed) for s in parts]
    # The model reads each sentence as written and with its disguises undone, both without the
    # words that name who someone is.
    neutral = [hostility.neutral(m) for m in masked]
    undisguised = [hostility.neutral(hostility.undisguised(m)) for m in masked]
    scores = _scorer()(neutral + undisguised)
    threshold = float(setting("LANGUAGE_FLAG_SCORE"))
    accusing = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in setting("LANGUAGE_REVIEW_WORDS")) + r")\b", re.IGNORECASE)
    found = []
    for i, (sentence, clean) in enumerate(zip(parts, masked)):
        score = max(scores[i], scores[len(parts) + i])
        hostile = hostility.find(clean)
        if hostile:
            rule = f"{hostile.rule} (“{hostile.words}”)"
        elif score >= threshold:
            rule = f"may be threatening, hurtful or profane (score {score:.2f} of 1)"
        elif accusation := _accuses_someone(clean, accusing):
            rule = f"says that someone is or did something (“{accusation.group()}”): it may be defamatory"
        else:
            continue
        found.append(Finding(RESPECTFUL_LANGUAGE, "language", sentence, where, rule, score=round(float(score), 3)))
    return found
