"""What a sentence does to people: threatens them, dehumanises them, says their lives are worth
nothing, names them with a slur, or says it hates them.

Two rules carry the school's equality duty:

- A word naming who someone is (a protected characteristic of the Equality Act 2010: sex, race,
  religion, sexual orientation, gender reassignment, disability, age, pregnancy) is never what
  flags a sentence. Before anything is scored, such words are replaced by "people"/"person", so
  "Gay people are wonderful" is scored as "people are wonderful", and "Muslims are vermin" as
  "people are vermin": the hostility is in the rest of the sentence, and that is what is checked.
- A sentence is looked at as it is written and as it reads once disguises are undone: letters
  for digits ("k1ll", "f4g"), spaced letters ("k i l l"), a swapped or dropped letter ("klil",
  "murdr") and words run together ("Ihate"), using symspellpy's English frequency dictionary
  (a maintained spelling corrector, MIT) so that only words it does not know are changed.

The word lists are the school's configuration (settings LANGUAGE_THREAT_WORDS,
LANGUAGE_DEHUMANISING_WORDS, LANGUAGE_CONTEMPT_WORDS, LANGUAGE_SLURS, LANGUAGE_IDENTITY_WORDS);
the defaults below were written from the policy, the Equality Act's characteristics and the
insults a school's comments see, and are measured against HateCheck in `bench_text`.
"""

import importlib.resources
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

# Words naming who someone is: each is replaced before scoring (see above). Plural nouns become
# "people", singular nouns "person"; adjectives before a person word are dropped.
LANGUAGE_IDENTITY_WORDS = {
    "adjectives": (
        "gay", "lesbian", "bisexual", "queer", "trans", "transgender", "non-binary", "nonbinary", "intersex", "lgbt", "lgbtq",
        "lgbtq+", "black", "white", "asian", "brown", "mixed-race", "mixed race", "muslim", "islamic", "jewish", "christian",
        "catholic", "hindu", "sikh", "buddhist", "atheist", "disabled", "deaf", "blind", "autistic", "dyslexic", "female",
        "male", "immigrant", "migrant", "refugee", "foreign", "african", "caribbean", "pakistani", "indian", "bangladeshi",
        "chinese", "polish", "romanian", "irish", "scottish", "welsh", "english", "british", "gypsy", "roma", "traveller",
        "arab", "old", "elderly", "young", "pregnant", "single", "married",
    ),
    "plural": (
        "women", "men", "girls", "boys", "ladies", "gays", "lesbians", "bisexuals", "muslims", "jews", "christians", "catholics",
        "hindus", "sikhs", "buddhists", "atheists", "immigrants", "migrants", "refugees", "asylum seekers", "foreigners",
        "africans", "asians", "blacks", "whites", "travellers", "gypsies", "arabs", "pakistanis", "indians", "bangladeshis",
        "poles", "romanians", "trans people", "transgender people", "wheelchair users", "pensioners", "disabled",
    ),
    "singular": (
        "woman", "man", "girl", "boy", "lady", "lesbian", "muslim", "jew", "christian", "catholic", "hindu", "sikh", "buddhist",
        "atheist", "immigrant", "migrant", "refugee", "asylum seeker", "foreigner", "traveller", "gypsy", "arab", "pensioner",
        "wheelchair user",
    ),
}

# Harm done to someone. A threat is one of these in the future, as a wish, an order or a duty:
# "I will…", "I'm going to…", "someone should…", "let's…", "death to…" (not "the Vikings burned").
LANGUAGE_THREAT_WORDS = (
    "kill", "murder", "shoot", "stab", "hang", "strangle", "drown", "slaughter", "execute", "exterminate", "eradicate",
    "eliminate", "wipe out", "get rid of", "torture", "hurt", "harm", "attack", "batter", "beat up", "kick in", "punch",
    "smash", "rape", "burn", "behead", "lynch", "gas", "bomb", "cut their throats", "cut his throat", "cut her throat",
    "cut your throat", "throats cut", "snap", "end his life", "end her life", "end your life", "end their life",
    "end their lives", "end every", "put an end to", "suffer", "die", "dead", "death", "execution", "deport", "put down",
    "run over", "a good slap", "a good hiding", "a good kicking", "a kicking", "a beating", "a slap", "lock up", "locked up", "cage", "cages", "knock out", "glass", "deck", "thump", "slap", "throttle", "choke",
)
LANGUAGE_DEHUMANISING_WORDS = (
    "vermin", "cockroach", "cockroaches", "rat", "rats", "parasite", "parasites", "plague", "pest", "pests", "virus",
    "cancer", "disease", "infestation", "infesting", "infest", "swarm", "swarms", "scum", "trash", "garbage", "rubbish",
    "filth", "dirt", "refuse", "subhuman", "sub-human", "animals", "savages", "savage", "apes", "monkeys", "monkey", "pigs",
    "lesser beings", "not human", "waste of space", "worthless", "useless", "inferior", "not our equal", "no value",
    "not worth", "aren't worth", "isn't worth", "worth nothing", "worth absolutely nothing", "do not matter",
    "don't matter", "not matter", "no right to", "not deserve to live", "don't deserve to live", "no place", "no space",
    "should not apply", "shouldn't apply", "better off without", "better off if", "a burden", "not welcome",
    "a threat to", "a danger to",
)
# Contempt and insult: said of people, these make a sentence hurtful.
LANGUAGE_CONTEMPT_WORDS = (
    "hate", "hatred", "loathe", "despise", "detest", "abhor", "contempt", "disdain", "scorn", "can't stand", "cannot stand",
    "sick of", "disgusted", "disgust", "disgusting", "repulsive", "revolting", "vile", "despicable", "sickening", "filthy",
    "stupid", "stupidest", "dumb", "dumbest", "idiot", "idiots", "moron", "morons", "ignorant", "uncivilised",
    "uncivilized", "dishonest", "violent", "cruel", "pathetic", "brainless", "evil", "thick", "ugly", "smelly", "lazy",
    "nothing worse", "never trust", "never any good", "never attractive", "no compassion", "make me sick", "makes me sick",
    "so angry", "the worst", "loser", "losers", "scrounger", "scroungers", "freak", "freaks", "weirdo", "nutter",
    "psycho", "pervert", "creep", "leech", "leeches", "rage", "anger", "angry", "furious", "repugnant", "abhorrent",
)
# Slurs, including the British ones a school's comments see. Each is flagged wherever it is,
# even on its own: a person reads the sentence and decides (a "fag" may be a cigarette).
LANGUAGE_SLURS = (
    "nigger", "niggers", "nigga", "niggas", "paki", "pakis", "muzzie", "muzzies", "mozzie", "coon", "coons", "wog", "wogs",
    "gollywog", "sambo", "chink", "chinks", "gook", "gooks", "kike", "kikes", "yid", "yids", "raghead", "ragheads",
    "towelhead", "towelheads", "pikey", "pikeys", "gyppo", "gyppos", "gypo", "pikie", "spic", "wetback", "fag", "fags",
    "faggot", "faggots", "dyke", "dykes", "tranny", "trannies", "shemale", "shemales", "poof", "poofs", "poofter",
    "batty boy", "bender", "benders", "lezza", "retard", "retards", "retarded", "spaz", "spazz", "spastic", "spastics",
    "mong", "mongs", "mongol", "cripple", "cripples", "window licker", "paedo", "paedos", "pedo", "pedos", "nonce",
    "nonces", "slag", "slags", "slut", "sluts", "whore", "whores", "bitch", "bitches", "hoe", "hoes", "skank",
)

# Someone the words are about or said to.
_PEOPLE = (
    r"you|your|yours|ya|u|he|him|his|she|her|hers|they|them|their|those|these|people|person|folk|kids?|child|children|"
    r"boys?|girls?|m[ae]n|wom[ae]n|lad|lass|teachers?|caretaker|head|headteacher|staff|mum|dad|parents?|sons?|"
    r"daughters?|refs?|referees?|players?|every(?:one|body)|any(?:one|body)|some(?:one|body)|all|lives|life|kind|humans?|beings?|neighbours?"
)
# The frame that makes harm a threat rather than a story: a future, a wish, an order or a duty.
_WILL = (
    r"will|'ll|shall|going to|gonna|want to|wanna|wish|hope|should|ought|must|let's|lets|need to|needs to|"
    r"would love|would like|like to|deserves? to|deserve|about to|i'd|we'd|i'm|if only|someone|somebody|"
    r"best to|interest to|only solution|is the solution|time to|can't wait|cannot wait|would be better|would all be|"
    r"what if|how about|am i wrong|ought to be|start|keep|death to|decriminalised|not be illegal|be legal|"
    r"be allowed|have to"
)
_NEGATION = re.compile(r"\b(?:never|not|no one|nobody|don't|do not|won't|would not|wouldn't|no)\b[^,.;:]{0,25}$")
_RUN_ON_STARTS = ("i", "we", "you", "they", "death", "fuck")
_LEET = str.maketrans({"4": "a", "@": "a", "3": "e", "1": "i", "!": "i", "0": "o", "5": "s", "$": "s", "7": "t", "8": "ate"})


def setting(name):
    return getattr(settings, name, globals()[name])


@dataclass(frozen=True)
class Hostility:
    rule: str  # what the sentence does, for the reviewer: "threatens harm", "dehumanises people", …
    words: str  # the words that made it so


_dictionary_lock = threading.Lock()
_dictionary = None


def _spelling():
    """symspellpy with its English frequency dictionary (about 80,000 words), loaded once."""
    global _dictionary
    with _dictionary_lock:
        if _dictionary is None:
            from symspellpy import SymSpell

            speller = SymSpell(max_dictionary_edit_distance=1, prefix_length=7)
            path = importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
            if not speller.load_dictionary(str(path), term_index=0, count_index=1):
                raise RuntimeError(f"The spelling dictionary could not be read from {path}.")
            _dictionary = speller
        return _dictionary


def warm_up():
    _spelling()
    _lexicon()


@lru_cache(maxsize=16)
def _compiled(words: tuple) -> re.Pattern:
    ordered = sorted({w.lower() for w in words}, key=len, reverse=True)
    # A word with its endings: "attack", "attacks", "attacked", "attacking", "stabbing".
    return re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(w) for w in ordered) + r")(?:s|es|d|ed|ing|[bgmnpt]ing|[bgmnpt]ed)?(?![\w-])")


def _lexicon():
    """Every word the rules look for, so that spelling correction only ever aims at them."""
    words = set()
    for name in ("LANGUAGE_THREAT_WORDS", "LANGUAGE_DEHUMANISING_WORDS", "LANGUAGE_CONTEMPT_WORDS", "LANGUAGE_SLURS"):
        for phrase in setting(name):
            words.update(w for w in re.findall(r"[a-z]+", phrase.lower()) if len(w) >= 3)
    words.update(("fuck", "fucking", "fucked", "shit", "bullshit", "cunt", "bastard", "wanker", "prick", "twat", "arsehole",
                  "asshole", "dickhead", "scumbag", "scumbags", "motherfucker", "motherfuckers", "executed", "killed", "raped",
                  "people", "those", "these", "death", "deaths", "lives", "throats", "neck", "necks", "stake", "hatred"))
    return frozenset(words)


def undisguised(sentence: str) -> str:
    """The sentence in lower case with disguises undone, for matching only (never shown)."""
    text = sentence.replace("’", "'")
    text = re.sub(r"\S+@\S+|\bhttps?://\S+|\bwww\.\S+", " ", text, flags=re.IGNORECASE)  # addresses are not words
    # "k i l l", "f u c k all": three or more single letters in a row are one word.
    text = re.sub(r"(?<!\w)(?:[a-zA-Z0-9@$!] ){2,}[a-zA-Z0-9@$!](?!\w)", lambda m: m.group().replace(" ", ""), text)
    speller = _spelling()
    known = speller.words
    wanted = _lexicon()
    out = []
    for token in re.findall(r"[\w@$!*'-]+|[^\w\s]", text):
        word = token.lower()
        # A word written with a capital is a name or starts the sentence: "Hatem" is not "hate".
        named = token[:1].isupper() and token[1:].islower()
        letters, others = sum(c.isalpha() for c in word), sum(c in "0123456789@$!*" for c in word.rstrip("!"))
        if others and letters >= 1 and (word[0].isalpha() or others < letters):  # "k1ll", "h8", "1diot"; not "30pm"
            word = word.rstrip("!").translate(_LEET).replace("*", "")
        core = word.strip("'-")
        if core.isalpha() and len(core) >= 4 and core not in known and core not in wanted:
            suggestion = None if named else speller.lookup(core, 0, max_edit_distance=1, transfer_casing=False)
            if suggestion and suggestion[0].term in wanted:  # 0: the closest spelling only
                word = suggestion[0].term
            else:
                parts = speller.word_segmentation(core, max_edit_distance=0).corrected_string.split()
                # A capitalised word is split only where it starts with a word such as "I" ("Ihate").
                if (len(parts) > 1 and all(p in known for p in parts) and any(p in wanted for p in parts)
                        and (not named or parts[0] in _RUN_ON_STARTS)):
                    word = " ".join(parts)
        out.append(word)
    return " ".join(out)


_FUNCTION_WORDS = (r"(?:tomorrow|today|tonight|and|or|but|in|on|at|to|is|are|was|were|be|like|who|that|which|for|from|with|by|"
                   r"as|than|will|would|should|can|could|has|have|had|i|you|he|she|we|they|it)")


def neutral(text: str) -> str:
    """text with every word naming who someone is replaced by "people" or "person", or dropped."""
    words = setting("LANGUAGE_IDENTITY_WORDS")
    adjectives = _alternation(words["adjectives"])
    text = re.sub(rf"(?<![\w-])(?:{_alternation(words['plural'])})(?![\w-])", "people", text, flags=re.IGNORECASE)
    text = re.sub(rf"(?<![\w-])(?:{_alternation(words['singular'])})(?![\w-])", "person", text, flags=re.IGNORECASE)
    # An adjective is dropped wherever it is: "a gay president" is scored as "a president".
    return re.sub(rf"(?<![\w-])(?:{adjectives})\s+(?=\w)(?!{_FUNCTION_WORDS}\b)", "", text, flags=re.IGNORECASE)


@lru_cache(maxsize=16)
def _alternation(words: tuple) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _near_people(text: str, start: int, end: int, reach: int = 60) -> bool:
    window = text[max(0, start - reach):end + reach]
    return re.search(rf"\b(?:{_PEOPLE})\b", window) is not None


_TARGET = re.compile(rf"\b(?:{_PEOPLE}|necks?|throats?|heads?|faces?)\b")


def _aimed_at_people(text: str, harm: re.Match) -> bool:
    """Harm done to someone: "batter that kid", "kill all people", "those people should be shot",
    "make those people suffer"; not "Year 5 will kill it on stage" or "burn off energy"."""
    if _TARGET.search(harm.group()):
        return True
    after = " ".join(text[harm.end():].split()[:3])
    if _TARGET.search(after):
        return True
    before = text[max(0, harm.start() - 60):harm.start()]
    done_to = re.search(r"\b(?:be|been|being|get|got|are|is|were|was|had|have)\s+(?:all\s+|just\s+|simply\s+)?$", before)
    happens_to = harm.group().startswith(("suffer", "die", "dead", "death", "cage", "lock", "a "))
    return bool((done_to or happens_to) and _TARGET.search(before))


def find(sentence: str) -> Hostility | None:
    """What the sentence does to people, or None."""
    for text in dict.fromkeys((neutral(sentence.lower().replace("’", "'")), neutral(undisguised(sentence)))):
        slur = _compiled(tuple(setting("LANGUAGE_SLURS"))).search(text)
        if slur:
            return Hostility("uses a slur", slur.group())
        for harm in _compiled(tuple(setting("LANGUAGE_THREAT_WORDS"))).finditer(text):
            before = text[:harm.start()]
            frame = re.search(rf"(?:^|\b)(?:{_WILL})\b[^.;!?]*$", before) or re.match(r"\s*(?:to|all|every)\b", text[harm.end():])
            if harm.group() in ("death", "execution") and re.search(r"\b(?:death to|execution is)\b", text):
                frame = True
            if frame and not _NEGATION.search(before[-40:]) and _aimed_at_people(text, harm):
                return Hostility("threatens harm", harm.group())
        for word in _compiled(tuple(setting("LANGUAGE_DEHUMANISING_WORDS"))).finditer(text):
            if re.match(r"\s+(?:any\s+)?less\b", text[word.end():]):  # "not worth any less than anyone else's"
                continue
            if _near_people(text, word.start(), word.end(), reach=40) and not _NEGATION.search(text[:word.start()][-30:]):
                return Hostility("dehumanises people or says their lives are worth nothing", word.group())
        for word in _compiled(tuple(setting("LANGUAGE_CONTEMPT_WORDS"))).finditer(text):
            if _near_people(text, word.start(), word.end(), reach=40) and not _NEGATION.search(text[:word.start()][-30:]):
                return Hostility("speaks of people with contempt", word.group())
    return None
