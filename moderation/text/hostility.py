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
from symspellpy import SymSpell

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

# Harm done to someone. A threat is one of these in the future, as a wish, an order or a duty,
# aimed at a person: "I will…", "someone should…", "let's…" (not "the Vikings burned", not
# "children should hang their coats").
LANGUAGE_THREAT_WORDS = (
    "kill", "murder", "shoot", "stab", "hang", "strangle", "drown", "slaughter", "execute", "exterminate", "eradicate",
    "eliminate", "wipe out", "get rid of", "torture", "hurt", "harm", "attack", "batter", "beat up", "kick in", "punch",
    "smash", "rape", "burn", "torch", "behead", "lynch", "gas", "bomb", "cut their throats", "cut his throat",
    "cut her throat", "cut your throat", "throats cut", "snap", "end his life", "end her life", "end your life",
    "end their life", "end their lives", "end every", "put an end to", "suffer", "die", "dead", "death", "execution",
    "deport", "put down", "run over", "a good slap", "a good hiding", "a good kicking", "a kicking", "a beating", "a slap",
    "a smack", "lock up", "locked up", "cage", "cages", "knock out", "glass", "deck", "thump", "slap", "throttle", "choke",
    "sort out", "sorting out", "teach a lesson",
)
# Threats in so many words, whoever says them and however: flagged on their own.
LANGUAGE_THREAT_PHRASES = (
    "knock his block off", "knock her block off", "knock your block off", "watch your back", "watch her back",
    "watch his back", "watch yourself", "watch herself", "watch himself", "better watch out", "in hospital",
    "there will be blood", "teach him a lesson", "teach her a lesson", "teach them a lesson", "a lesson he won't forget",
    "a lesson she won't forget", "wants sorting out", "needs sorting out", "needs a kicking", "needs a slap",
    "wipe that smug", "wipe that grin", "wipe that smile", "you'll regret", "you're going to regret", "you will regret",
    "eating through a straw", "see you outside", "i know where you live", "we know where you live",
    "won't know what hit", "death to", "be waiting for you", "be waiting for her", "be waiting for him",
    "be waiting for them", "brick through", "see what happens", "sort him out", "sort her out", "sort you out",
    "sort them out", "know where she lives", "know where he lives", "know where they live", "know where the head lives",
    "pay her a visit", "pay him a visit", "pay you a visit", "what's coming", "something happened to",
)
# Telling people they do not belong: flagged on their own.
LANGUAGE_EXCLUSION_PHRASES = (
    "go back to where", "go back where", "back where they came from", "back where you came from", "go home to",
    "where you belong", "where they belong", "send them back", "send them home", "nobody wants them", "nobody wants you",
    "don't belong here", "do not belong here", "not welcome here", "shouldn't be allowed near", "should not be allowed near",
    "shouldn't be allowed anywhere near", "out of the way", "should be kept away from", "not ours anymore",
)
# Words that make people less than human, or their lives worth nothing: flagged when they are
# said of people ("those people are vermin", "you rats", "lives that do not matter"), not of
# the farm's animals or a virus in a science lesson.
LANGUAGE_DEHUMANISING_WORDS = (
    "vermin", "cockroach", "cockroaches", "rats", "parasite", "parasites", "plague", "pest", "pests", "virus",
    "cancer", "disease", "infestation", "scum", "trash", "garbage", "rubbish", "filth", "dirt", "subhuman", "sub-human",
    "animals", "savages", "apes", "monkeys", "pigs", "lesser beings", "waste of space", "worthless", "useless", "inferior",
    "a burden", "a threat to", "a danger to", "swarm", "swarms", "human garbage",
)
# Said of people anywhere in the sentence: their lives or worth denied.
LANGUAGE_WORTHLESS_PHRASES = (
    "not human", "not our equal", "no value", "not worth", "aren't worth", "isn't worth", "worth nothing",
    "worth absolutely nothing", "do not matter", "don't matter", "does not matter", "doesn't matter", "no right to",
    "not deserve to live", "don't deserve to live", "doesn't deserve to live", "should not apply", "shouldn't apply",
    "better off without", "infesting", "infest", "not worthy", "never any good", "never any", "no place in a civilised",
    "no place in this country", "no place on this planet", "no space on this planet", "belong in a zoo", "belong in a cage",
)
# Contempt: a feeling aimed at people ("I hate those people"), or an insult said of someone
# ("the new teacher is a useless idiot", "you muppets").
LANGUAGE_CONTEMPT_WORDS = (
    "hate", "hatred", "loathe", "despise", "detest", "abhor", "contempt", "disdain", "scorn", "can't stand", "cannot stand",
    "sick of", "disgusted by", "disgust", "nothing worse than", "never trust", "no compassion",
)
LANGUAGE_INSULTS = (
    "disgusting", "repulsive", "revolting", "vile", "despicable", "sickening", "filthy", "stupid", "stupidest", "dumb",
    "dumbest", "idiot", "idiots", "moron", "morons", "ignorant", "uncivilised", "uncivilized", "dishonest", "violent",
    "cruel", "pathetic", "brainless", "evil", "thick", "ugly", "smelly", "lazy", "loser", "losers", "scrounger",
    "scroungers", "freak", "freaks", "weirdo", "nutter", "psycho", "pervert", "perv", "creep", "leech", "leeches",
    "repugnant", "abhorrent", "bellend", "pillock", "muppet", "muppets", "scrote", "prat", "plonker", "numpty", "knobhead",
    "tosser", "wanker", "twat", "snake", "two-faced", "cow", "minger", "slapper", "div", "waste of space", "joke",
    "disgrace", "liability", "clown", "clowns", "animal", "animals", "rat", "pig", "dirty", "mentally ill",
    "too emotional", "nothing but crime", "always the ones", "dim", "nasty", "vindictive", "witch", "incompetent",
    "disgraceful", "prick", "pricks", "dickhead", "dickheads", "arsehole", "arseholes", "asshole", "bastard", "bastards",
    "cunt", "cunts", "shithead", "scumbag", "scumbags", "knob", "git", "useless", "the worst", "gobshite", "shite",
)
# Slurs, including the British ones a school's comments see: flagged wherever they are, even on
# their own; one written with a capital inside a sentence is a name ("Greg Dyke"), and a dish or
# a place that shares the word is on the allow list ("faggots and peas", "Offa's Dyke").
LANGUAGE_SLURS = (
    "nigger", "niggers", "nigga", "niggas", "paki", "pakis", "muzzie", "muzzies", "mozzie", "coon", "coons", "wog", "wogs",
    "gollywog", "sambo", "chink", "chinks", "gook", "gooks", "kike", "kikes", "yid", "yids", "raghead", "ragheads",
    "towelhead", "towelheads", "pikey", "pikeys", "gyppo", "gyppos", "gypo", "pikie", "spic", "wetback", "fag", "fags",
    "faggot", "faggots", "dyke", "dykes", "tranny", "trannies", "shemale", "shemales", "poofter", "batty boy", "lezza",
    "retard", "retards", "retarded", "spaz", "spazz", "spastic", "spastics", "spacker", "mong", "mongs", "window licker",
    "paedo", "paedos", "pedo", "pedos", "nonce", "nonces", "kiddy fiddler", "slag", "slags", "slut", "sluts", "whore",
    "whores", "bitch", "bitches", "skank", "poofs", "cripple", "cripples", "rapefugee", "rapefugees", "jihadi", "jihadis",
    "camelfucker", "camelfuckers",
)

# Someone the words are about or said to.
_PEOPLE = (
    r"you|ya|u|him|her|them|us|he|she|they|people|person|persons|folk|kids?|child|children|boys?|girls?|m[ae]n|wom[ae]n|"
    r"lads?|lass|teachers?|caretaker|head|headteacher|staff|mums?|dads?|parents?|sons?|daughters?|refs?|referees?|"
    r"players?|every(?:one|body)|any(?:one|body)|some(?:one|body)|lives|life|humans?|beings?|neighbours?|family|families|"
    r"lot of you|all of you|each of you"
)
# The frame that makes harm a threat rather than a story: a future, a wish, an order or a duty.
_WILL = (
    r"will|'ll|shall|going to|gonna|want to|wanna|wish|hope|should|ought|must|let's|lets|need to|needs to|needs|"
    r"would love|would like|like to|deserves? to|deserve|deserves|about to|i'd|we'd|i'm|if only|someone|somebody|"
    r"best to|interest to|only solution|is the solution|time to|can't wait|cannot wait|would be better|would all be|"
    r"what if|how about|am i wrong|ought to be|start|keep|death to|decriminalised|not be illegal|be legal|"
    r"be allowed|have to|wants|get"
)
_NEGATION = re.compile(r"\b(?:never|not|no one|nobody|don't|do not|won't|would not|wouldn't|no|opposite of)\b[^,.;:]{0,25}$")
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


_LISTS = ("LANGUAGE_THREAT_WORDS", "LANGUAGE_THREAT_PHRASES", "LANGUAGE_EXCLUSION_PHRASES", "LANGUAGE_WORTHLESS_PHRASES",
          "LANGUAGE_DEHUMANISING_WORDS", "LANGUAGE_CONTEMPT_WORDS", "LANGUAGE_INSULTS", "LANGUAGE_SLURS")


def _lexicon() -> frozenset:
    """Every word the rules look for, so that spelling correction only ever aims at them."""
    return _lexicon_of(tuple(tuple(setting(name)) for name in _LISTS))


@lru_cache(maxsize=8)
def _lexicon_of(lists: tuple) -> frozenset:
    words = set()
    for phrase_list in lists:
        for phrase in phrase_list:
            words.update(w for w in re.findall(r"[a-z]+", phrase.lower()) if len(w) >= 3)
    words.update(("fuck", "fucking", "fucked", "shit", "bullshit", "cunt", "bastard", "wanker", "prick", "twat", "arsehole",
                  "asshole", "dickhead", "scumbag", "scumbags", "motherfucker", "motherfuckers", "executed", "killed", "raped",
                  "people", "those", "these", "death", "deaths", "lives", "throats", "neck", "necks", "stake", "hatred"))
    return frozenset(words)


def undisguised(sentence: str) -> str:
    """The sentence in lower case with disguises undone, for matching only (never shown)."""
    text = sentence.replace("’", "'")
    text = re.sub(r"[\w.+-]+@[\w-]+\.[\w.-]+|\bhttps?://\S+|\bwww\.\S+", " ", text, flags=re.IGNORECASE)  # addresses
    # "f.u.c.k", "k-i-l-l": letters with dots or hyphens between them are one word.
    text = re.sub(r"(?<![\w.])(?:[a-zA-Z][.\-]){2,}[a-zA-Z](?![\w])\.?", lambda m: re.sub(r"[.\-]", "", m.group()), text)
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
            word = word.rstrip("!").translate(_LEET)
        if "*" in word and re.search(r"[a-z]", word):  # "p*kis", "c*nt": the word the stars hide
            hidden = re.compile(re.escape(word.strip("'-")).replace(r"\*", "[a-z]{1,2}"))
            word = next((w for w in sorted(wanted) if hidden.fullmatch(w)), word.replace("*", ""))
        core = word.strip("'-")
        if core.isalpha() and len(core) >= 4 and core not in known and core not in wanted:
            suggestion = speller.lookup(core, 0, max_edit_distance=1, transfer_casing=False)
            if named and suggestion and not (not out and sorted(suggestion[0].term) == sorted(core)):
                suggestion = None  # a name is left alone; only the first word's swapped letters are put right
            # A letter put back or two swapped ("murdr", "klil"), never one taken away: "hatem" is a
            # name, not "hate". 0: the closest spelling only.
            if suggestion and suggestion[0].term in wanted and len(suggestion[0].term) >= len(core):
                word = suggestion[0].term
            else:
                parts = speller.word_segmentation(core, max_edit_distance=0).corrected_string.split()
                # A capitalised word is split only where it starts with a word such as "I" ("Ihate").
                # "ihate" is "i hate"; "killa" is not "kill a".
                if (len(parts) > 1 and all(p in known or p in wanted for p in parts) and any(p in wanted for p in parts)
                        and all(len(p) > 1 for p in parts[1:])
                        and (not named or parts[0] in _RUN_ON_STARTS)):
                    word = " ".join(parts)
        out.append(word)
    return " ".join(out)


def neutral(text: str) -> str:
    """text with every word naming who someone is replaced by "people" or "person", or dropped."""
    words = setting("LANGUAGE_IDENTITY_WORDS")
    adjectives = _alternation(tuple(words["adjectives"]))
    every = _alternation(tuple(words["adjectives"]) + tuple(words["singular"]))
    # "Muslim parents", "gypsy families": the word before the people is dropped ("parents").
    text = re.sub(rf"(?<![\w-])(?:{every})\s+(?=(?:people|persons?|folks?|kids?|child|children|boys?|girls?|m[ae]n|wom[ae]n|"
                  rf"famil(?:y|ies)|lives|life|neighbours?|parents?|pupils?|teachers?|staff|mums?|dads?|lads?)\b)", "", text,
                  flags=re.IGNORECASE)
    text = re.sub(rf"(?<![\w-])(?:{_alternation(tuple(words['plural']))})(?![\w-])", "people", text, flags=re.IGNORECASE)
    text = re.sub(rf"(?<![\w-])(?:{_alternation(tuple(words['singular']))})(?![\w-])", "person", text, flags=re.IGNORECASE)
    # An adjective is dropped wherever it is: "a gay president" is scored as "a president", and
    # "never use 'gay' as an insult" as "never use '' as an insult".
    return re.sub(rf"(?<![\w-])(?:{adjectives})(?![\w-])\s?", "", text, flags=re.IGNORECASE)


@lru_cache(maxsize=16)
def _alternation(words: tuple) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


# A copula or words that say what someone is: "are", "is nothing but a", "are just such".
# Words that say what someone is: "those people are nothing but", "the new teacher is a useless".
_IS = (r"(?:\s+[a-z'-]+){0,3}?(?:\s+(?:are|is|were|was|be|being|been|become|remain|seem|seems|looks?)|'s|'re)"
       r"(?:\s+[a-z'-]+){0,4}?\s+")
# Whom an insult is said of; not "someone" or "anyone" ("if someone is being violent, tell us").
_SUBJECT = (rf"(?:\b(?!(?:some|any|every)(?:one|body)\b)(?:{_PEOPLE}|those|these|mr|mrs|ms|miss|dr|sir)\b"
            r"(?:\s+[a-z'-]+)?)")
_TARGET = re.compile(rf"\b(?:{_PEOPLE}|necks?|throats?|heads?|faces?)\b")
# Said to or of people: "you rats", "those vermin", "rats like you", "bunch of muppets".
_ADDRESS = r"(?:\b(?:you|those|these|bunch of|load of|pack of|what an?|typical|another|such an?|like)\s+(?:[a-z'-]+\s+){0,2})"


def _about_people(text: str, word: re.Match) -> bool:
    """The word is said of people: "those people are vermin", "you rats", "rats like you"."""
    before = text[:word.start()]
    after = text[word.end():word.end() + 30]
    return bool(
        re.search(rf"{_SUBJECT}{_IS}$", before[-80:])
        or re.search(rf"{_ADDRESS}$", before)
        or re.match(r"\s+(?:like\s+(?:you|them|him|her|that|those|these)|of\s+(?:people|you|them)|behaviour)\b", after)
    )


def _object_after(text: str, harm: re.Match) -> bool:
    """A person right after the harm: "batter that kid", "kill all people", "hurt her." (not
    "hang their coats", "smash their SATs", "a glass jar for their experiment")."""
    words = text[harm.end():].split()[:4]
    for i, word in enumerate(words):
        word = word.strip(".,!?;:'\"")
        if word in ("their", "his", "your", "my", "our", "its") or (word == "her" and i + 1 < len(words)
                                                                    and words[i + 1].strip(".,!?") not in _AFTER_HER):
            # A possessive: what follows is what is harmed; a person only if it is a body or a life.
            rest = " ".join(words[i + 1:i + 3])
            return bool(re.match(r"(?:[a-z]+\s+)?(?:necks?|throats?|heads?|faces?|lives|life|block)\b", rest))
        if _TARGET.fullmatch(word):
            return True
    return False


_AFTER_HER = {"and", "or", "if", "when", "so", "up", "out", "in", "again", "tomorrow", "today", "tonight", "now", "too", "at",
              "for", "with"}


def _aimed_at_people(text: str, harm: re.Match) -> bool:
    """Harm done to someone: "batter that kid", "kill all people", "those people should be shot",
    "make those people suffer"; not "Year 5 will kill it on stage" or "burn off energy"."""
    if _TARGET.search(harm.group()) or _object_after(text, harm):
        return True
    before = text[max(0, harm.start() - 60):harm.start()]
    done_to = re.search(r"\b(?:be|been|being|get|got|are|is|were|was|had|have|needs|need|deserves?)\s+(?:all\s+|just\s+|simply\s+)?$", before)
    happens_to = harm.group().startswith(("suffer", "die", "dead", "death", "cage", "lock", "a ", "sort", "teach"))
    return bool((done_to or happens_to) and re.search(rf"\b(?:{_PEOPLE})\b", before))


@lru_cache(maxsize=16)
def _phrase(words: tuple) -> re.Pattern:
    """The words as written, no endings added: phrases such as "watch your back"."""
    ordered = sorted({w.lower() for w in words}, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(w) for w in ordered) + r")(?![\w-])")


def _slur(text: str, original: str) -> re.Match | None:
    for slur in _compiled(tuple(setting("LANGUAGE_SLURS"))).finditer(text):
        # "Greg Dyke": a word with a capital beside another such word is part of a name.
        if re.search(rf"\b[A-Z][a-z]+\s+{re.escape(slur.group().capitalize())}\b|\b{re.escape(slur.group().capitalize())}\s+[A-Z][a-z]+",
                     original):
            continue
        return slur
    return None


def find(sentence: str) -> Hostility | None:
    """What the sentence does to people, or None."""
    original = sentence.replace("’", "'")
    for text in dict.fromkeys((neutral(original.lower()), neutral(undisguised(sentence)))):
        slur = _slur(text, original)
        if slur:
            return Hostility("uses a slur", slur.group())
        said = _phrase(tuple(setting("LANGUAGE_THREAT_PHRASES"))).search(text)
        if said:
            return Hostility("threatens harm", said.group())
        for harm in _compiled(tuple(setting("LANGUAGE_THREAT_WORDS"))).finditer(text):
            before = text[:harm.start()]
            frame = re.search(rf"(?:^|\b)(?:{_WILL})\b[^.;!?]*$", before) or re.match(r"\s*(?:to|all|every)\b", text[harm.end():])
            if harm.group() in ("death", "execution") and re.search(r"\b(?:death to|execution is)\b", text):
                frame = True
            if re.match(r"\s+it\b", text[harm.end():]):  # "Year 5 will kill it on stage"
                continue
            # "Raping a person like you should not be illegal": made lawful is wished for too.
            frame = frame or re.search(r"\b(?:should|must|ought to|would)\s+(?:not\s+)?be\s+(?:legal|illegal|allowed|"
                                       r"decriminalised|encouraged)\b", text[harm.end():])
            if frame and not _NEGATION.search(before[-40:]) and _aimed_at_people(text, harm):
                return Hostility("threatens harm", harm.group())
        excluded = _phrase(tuple(setting("LANGUAGE_EXCLUSION_PHRASES"))).search(text)
        if excluded and not _NEGATION.search(text[:excluded.start()][-30:]):
            return Hostility("tells people they do not belong", excluded.group())
        for word in _phrase(tuple(setting("LANGUAGE_WORTHLESS_PHRASES"))).finditer(text):
            if re.match(r"\s+(?:any\s+)?less\b", text[word.end():]):  # "not worth any less than anyone else's"
                continue
            if re.search(rf"\b(?:{_PEOPLE})\b", text) and not _NEGATION.search(text[:word.start()][-30:]):
                return Hostility("dehumanises people or says their lives are worth nothing", word.group())
        for word in _compiled(tuple(setting("LANGUAGE_DEHUMANISING_WORDS"))).finditer(text):
            if _about_people(text, word) and not _NEGATION.search(text[:word.start()][-30:]):
                return Hostility("dehumanises people or says their lives are worth nothing", word.group())
        for word in _compiled(tuple(setting("LANGUAGE_CONTEMPT_WORDS"))).finditer(text):
            after = " ".join(text[word.end():].split()[:7])
            aimed = re.search(rf"\b(?:{_PEOPLE}|those|these|all)\b", after) or re.search(rf"\b(?:{_PEOPLE})\b{_IS}$", text[:word.start()])
            if aimed and not _NEGATION.search(text[:word.start()][-30:]) and not re.search(r"\b(?:people who|anyone who|those who)\s*$", text[:word.start()]):
                return Hostility("speaks of people with contempt", word.group())
        for word in _compiled(tuple(setting("LANGUAGE_INSULTS"))).finditer(text):
            if _about_people(text, word) and not _NEGATION.search(text[:word.start()][-30:]):
                return Hostility("insults someone", word.group())
        feeling = re.search(rf"\b(?:{_PEOPLE}|those|these)\b[^.;!?]{{0,40}}\b(?:make|makes|fill|fills)\s+me\s+(?:\w+\s+){{0,3}}"
                            r"(?:sick|angry|furious|rage|anger|boil|ill)\b", text)
        if feeling:
            return Hostility("speaks of people with contempt", feeling.group())
    return None
