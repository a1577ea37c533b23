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

from moderation.text import hostility
from moderation.text.personal_data import RESPECTFUL_LANGUAGE, Finding

LANGUAGE_FLAG_SCORE = 0.5
LANGUAGE_ALLOW = (
    "Dick Whittington", "Scunthorpe", "Penistone", "Middlesex", "Sussex", "Essex", "Wessex", "Cockermouth",
    "Shitterton", "Twatt", "Clitheroe", "Bitchfield", "Crapstone", "Cockfosters",
    "Moby Dick", "Dick King-Smith", "Spotted Dick", "bum bag", "Great Tits", "Blue Tits", "blue tit", "great tit",
    "The Owl and the Pussy-cat", "Pussy-cat", "pussycat", "Puss in Boots", "Sheep-Pig", "Sheep Pig",
    "Kill Bill", "To Kill a Mockingbird", "Stig of the Dump", "The Twits", "Horrid Henry", "Horrible Histories",
    "Vile Victorians", "Terrible Tudors", "Rotten Romans", "Vicious Vikings", "Savage Stone Age", "Gorgeous Georgians",
    "Awful Egyptians", "Groovy Greeks", "Measly Middle Ages", "Big Bad Wolf", "Three Little Pigs", "spotted dick",
    "faggots and peas", "faggots and mash", "faggots in gravy", "faggots with", "Offa's Dyke", "slag heap", "slag heaps",
    "Day of the Dead", "Mongols", "Mongolia", "died laughing", "garden hoe", "new hoe", "a hoe and", "hoe and rake",
)
LANGUAGE_REVIEW_WORDS = (
    "thief", "thieves", "stole", "stolen", "steal", "stealing", "liar", "lied", "lying", "fraud", "fraudster", "criminal",
    "corrupt", "abuser", "paedophile", "pedophile", "groomer", "drunk", "racist", "bully", "cheat",
    "cheated", "arrested", "sacked", "paedo", "nonce", "molester", "predator", "fiddling", "fiddled", "fiddles",
    "pocketing", "pocketed", "embezzled", "embezzling", "embezzler", "falsified", "falsifying", "nicked", "nicking",
    "grooming", "groomed", "on drugs", "sells drugs", "selling drugs", "dealing drugs", "drug dealer", "an affair",
    "drinks on the job", "drunk on the job", "touches the kids", "touching the kids", "touches children", "perv",
    "covered up", "cover up", "covering up", "hits the children", "hits children", "hits the kids", "dealer",
    "helping himself to", "helping herself to", "drinks at lunchtime", "drinks at work", "drunk at work",
)
# An accusation is defamatory only of someone who can be identified, and only when it is said of
# them: a pronoun, a title and name, or a role in the school just before the accusing words
# ("Mr Brown is a thief", "the caretaker has been fiddling"). Not "the Vikings stole", "someone
# stole a bike", "a child is being abused" or "Mr Smith's class were lying on the field".
_ACCUSED = (
    r"(?:\b(?:he|she|you|Mr|Mrs|Ms|Miss|Mx|Dr|Sir|Dame|Rev|Cllr|Coach)\b(?-i:\s+[A-Z][a-z-]+(?:'(?!s\b)[a-z]+)?){0,2}"
    r"|\b(?:the|that|this|our|your|their|my|a|his|her)\s+(?:new\s+|old\s+|deputy\s+|assistant\s+)?(?:head|headteacher|"
    r"head\s+teacher|principal|teacher|TA|caretaker|cook|cleaner|governor|chair|coach|parent|mum|mom|dad|mother|father|"
    r"man|woman|lady|bloke|boy|girl|kid|child|pupil|lad|neighbour|driver|receptionist|secretary|manager|vicar|councillor|"
    r"nurse|doctor)\b)"
)
# Up to eight words between, none a possessive or a verb in the past ("Mrs Ali learned how the
# Vikings sacked…" is not about Mrs Ali).
_SAID_OF = re.compile(_ACCUSED + r"(?:\s+(?![a-z-]+'s\b|[a-z]+ed\b)[\w'-]+){0,8}?\s+$", re.IGNORECASE)

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


def _names_out(sentence: str) -> str:
    """The sentence with each word written with a capital inside it (a name: Dick, Fanny, Gaylord)
    replaced by a plain name, for the model only: a pupil's name is never what it scores."""
    return re.sub(r"(?<=[\w,;:)] )[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b", "Sam", sentence)


def _accuses_someone(sentence: str, words: re.Pattern):
    for accusation in words.finditer(sentence):
        before = sentence[:accusation.start()]
        # A name just before: "Jack Brown stole", "Sam is a liar"; not "The Romans stole".
        named = re.search(r"(?<![Tt]he )\b(?!(?:The|A|An|Our|Their|Some|Someone|Somebody|Everyone|Everybody|Nobody|Anyone|"
                          r"They|We|It|This|That|These|Those|Year|If|When|In|On|At)\b)[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?"
                          r"(?:\s+(?:is|was|has|had|been|always|just|a|an|the|total|complete|known|proper|also|really|never))*"
                          r"\s+$", before)
        if named or _SAID_OF.search(before):
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
    named = [_names_out(m) for m in masked]
    neutral = [hostility.neutral(m) for m in named]
    undisguised = [hostility.neutral(hostility.undisguised(m)) for m in named]
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
