"""Question analysis: what kind of answer a question asks for, and which of its words count.

The kind comes from the wh-phrase of the clause that asks (``asking_clause``: "If I restore into
a full folder, does borg ...?" asks "does borg ...?"), read against ``ANSWER_TYPES`` (rules as
data, first match wins). Each kind names the entity types that fit it (spaCy's labels), so a
"When ...?" question prefers a DATE or TIME and a "How many ...?" a CARDINAL or QUANTITY, on any
document. Wh-words are a closed class of English; nothing here names a topic. Terms are the
question's stemmed content words with their idf in the corpus.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from functools import cached_property

from rag.index.lexical import LexicalIndex
from rag.text.normalize import STOPWORDS, content_terms, fold, stem

# What may precede the wh-word of a clause that asks: a conjunction or a preposition ("In which file
# ...?"), and a degree word or a bound ("Roughly how many ...?", "Up to which version ...?", "At most
# how many days ...?"): closed classes of English, so a question that opens with one is still read
# for its kind.
_OPENING = (r"^(?:(?:and|so|but|then|in|on|at|from|by|since|until|of|to|for|during|under|with|after|before|within"
            r"|up to|about|around|approximately|roughly|nearly|almost|exactly|precisely|at (?:most|least))\s+){0,2}")
# (answer kind, opening pattern, entity labels that fit). Order matters: specific before general.
ANSWER_TYPES: tuple[tuple[str, str, frozenset[str]], ...] = tuple(
    (kind, _OPENING + "(?:" + pattern + ")", frozenset(labels.split()))
    for kind, pattern, labels in (
        ("count", r"(?:how many|(?:what|which) (?:is |was |are )?(?:the )?(?:\w+ )?number of)\b", "CARDINAL QUANTITY"),
        ("amount", r"how much\b", "MONEY QUANTITY PERCENT CARDINAL"),
        ("duration", r"how (?:long|often)\b|for how long\b", "DATE TIME QUANTITY CARDINAL"),
        ("measure", r"how (?:old|far|big|large|fast|high|tall|wide|deep|heavy|small)\b", "QUANTITY CARDINAL DATE"),
        ("percent", r"what (?:percent|percentage|share|proportion)\b", "PERCENT CARDINAL"),
        ("time", r"when\b|what (?:year|date|day|month|time|century|decade)\b"
                 r"|which (?:year|date|day|month|version|release)\b", "DATE TIME CARDINAL"),
        ("person", r"who(?:m|se)?\b", "PERSON ORG NORP GPE"),
        ("place", r"where\b|what (?:country|city|place|region|location)\b|which (?:country|city|place|region)\b",
         "GPE LOC FAC ORG"),
        ("reason", r"why\b|for what reason\b|what (?:is|was|are|were) the (?:reason|purpose|cause|point)s?\b", ""),
        ("manner", r"how\b", ""),
        ("definition", r"what (?:is|are|was|were|does) (?:an? |the )?[^ ]+(?: [^ ]+){0,3}(?: mean| stand for)?\??$",
         ""),
        ("thing", r"(?:what|which)\b", ""),
    )
)  # fmt: skip
# Plural agreement ("Which options are...", "What files do..."), "what are the...", "list/name the...", or a count
# of things ("the three storage classes"): the answer is several items.
_LIST_CUE = re.compile(
    r"^(?:(?:which|what) (?:\w+ ){0,2}\w+[^su\W]s (?:are|were|do|did|have|can|could|should|must|will)\b"
    r"|what are (?:the|some|all) |(?:list|name) (?:the |all )?\w"
    r"|.*\b(?:two|three|four|five|six|seven|eight|nine|ten|several|various) \w+s\b)"
)
_AUXILIARY = r"(?:is|are|was|were|do|does|did|can|could|will|would|should|has|have|had|may|might|must)\b"
_YES_NO = re.compile("^" + _AUXILIARY)
# A clause that asks: one opening with a wh-word or an auxiliary ("..., what should I ...", "...; does it
# ..."). "When" asks only before an auxiliary ("When was ...?"); before anything else it opens a
# subordinate clause ("When I fork workers, what ...?"), as "if", "after" or "in Werkzeug" do.
_ASKING = re.compile(_OPENING + r"(?:what|which|who|whom|whose|where|why|how|when (?=" + _AUXILIARY + ")|"
                     + _AUXILIARY + ")")  # fmt: skip
_NAME = re.compile(r"\w+(?:[-'.]\w+)*")
# "Which <type noun> ...?": up to three words after which/what, before an auxiliary or a preposition,
# name what kind of thing the answer is ("In which directory ...", "What keyword argument of ...").
_TYPE_PHRASE = re.compile(_OPENING + r"(?:which|what)(?: (?:kinds?|types?|sorts?) of)?((?: (?!(?:is|are|was|were|do|"
                          r"does|did|can|could|will|would|should|has|have|had|must|may|might|of|in|on|for|to|from|"
                          r"by|with|at|the|a|an)\b)[\w-]+){1,3})")  # fmt: skip


@dataclass
class Question:
    text: str
    kind: str  # an ANSWER_TYPES kind, "yes_no", or "other"
    labels: frozenset[str]  # entity labels that fit the kind
    terms: dict[str, float]  # stemmed content word -> idf
    wants_list: bool
    unknown_names: list[str] = field(default_factory=list)  # capitalised words the corpus never uses
    bigrams: frozenset[tuple[str, str]] = frozenset()  # adjacent content-word stems, in order
    type_nouns: frozenset[str] = frozenset()  # stems naming the answer's kind ("Which directory ...?")
    echoed: dict[str, bool] = field(default_factory=dict)  # words already checked by ``echoes``
    # Each term's weight among the sentences competing for the answer (``weigh_locally``): a word
    # every one of them holds, like the name of the program a manual page is about, tells none apart.
    local: dict[str, float] = field(default_factory=dict)

    @cached_property
    def total(self) -> float:
        return sum(self.terms.values()) or 1.0

    def coverage(self, found: frozenset[str]) -> float:
        """Idf-weighted share of the question's terms among ``found``."""
        return sum(w for t, w in self.terms.items() if t in found) / self.total

    def weigh_locally(self, competing: list[frozenset[str]]) -> None:
        """Weigh each question term by how few of the ``competing`` sentences' term sets hold it:
        log((n + 1) / (df + 0.5)), for the terms at least one of them holds."""
        n = len(competing)
        self.local = {}
        for term in self.terms:
            df = sum(term in found for found in competing)
            if df:
                self.local[term] = math.log((n + 1) / (df + 0.5))

    def local_coverage(self, found: frozenset[str]) -> float:
        """The share of the question's locally weighted terms (``weigh_locally``) among ``found``."""
        total = sum(self.local.values())
        return sum(w for t, w in self.local.items() if t in found) / total if total else 0.0

    def rarest_share(self, found: frozenset[str]) -> float:
        """The idf of the rarest question term among ``found``, as a share of the rarest overall:
        whether the question's most specific word is there."""
        rarest = max(self.terms.values(), default=0.0)
        return max((w for t, w in self.terms.items() if t in found), default=0.0) / rarest if rarest else 0.0

    def echoes(self, folded_word: str) -> bool:
        """Whether a (folded) word repeats the question: a content word with the same stem. Not one
        stem prefixing the other, as it was: that made "BaseException", "undofile", "s390x" or
        "functools.cmp_to_key" repeat questions about a "base class", "undo", "s390" or "functools",
        and the echo penalty dropped 31 right answers of the gold sets (held out, F1 .328 -> .338)."""
        known = self.echoed.get(folded_word)
        if known is None:
            known = self.echoed[folded_word] = self.echoed_by(echo_key(folded_word))
        return known

    def echoed_by(self, key: str | None) -> bool:
        """Whether a word whose ``echo_key`` is ``key`` repeats the question: the key is one of its
        terms, or it is a compound's and each of its parts is."""
        if not key:
            return False
        return key in self.terms or (" " in key and all(part in self.terms for part in key.split(" ")))


def echo_key(folded_word: str) -> str | None:
    """What ``Question.echoed_by`` looks up for a word: its stem (without a possessive ``'s``), or None
    for a stop word, which echoes nothing. It is the same for every question, so a sentence's keys
    are made once. A hyphenated word ("linux-pam", "dry-run") keys as its parts' terms joined by a
    space: a question's terms are split at hyphens (``content_terms``), so the whole word was never
    one of them, and "Linux-PAM" did not echo a question about Linux-PAM."""
    word = folded_word.removesuffix("'s")
    if word in STOPWORDS:
        return None
    if "-" in word:
        return " ".join(content_terms(word)) or None
    return stem(word)


def lowered(question: str) -> str:
    return " ".join(fold(question).split())


def asking_clause(question: str) -> str:
    """The question from its first clause that asks (see ``_ASKING``): "If every instance binds its own
    port, what do I need ...?" asks "what do I need ...?". The whole question when no clause does."""
    q = lowered(question)
    for clause in re.finditer(r"[^,;:]+", q):
        text = q[clause.start():].lstrip()
        if _ASKING.match(text):
            return text
    return q


def answer_kind(question: str) -> tuple[str, frozenset[str]]:
    q = asking_clause(question)
    if _YES_NO.match(q):
        return "yes_no", frozenset()
    for kind, pattern, labels in ANSWER_TYPES:
        if re.match(pattern, q):
            return kind, labels
    return "other", frozenset()


def analyse_question(text: str, lexical: LexicalIndex) -> Question:
    kind, labels = answer_kind(text)
    stems = content_terms(text)
    terms = {t: lexical.idf(t) for t in stems}
    names = [
        m.group()
        for m in _NAME.finditer(text)
        if m.start() > 0 and m.group()[:1].isupper() and fold(m.group()) not in STOPWORDS
    ]
    unknown = [n for n in names if not all(lexical.known(t) for t in content_terms(n))]
    asking = asking_clause(text)
    phrase = _TYPE_PHRASE.match(asking)
    return Question(
        text=text,
        kind=kind,
        labels=labels,
        terms=terms,
        wants_list=bool(_LIST_CUE.match(asking)),
        unknown_names=unknown,
        bigrams=frozenset(itertools.pairwise(stems)),
        type_nouns=frozenset(stem(w) for w in phrase.group(1).split() if w not in STOPWORDS) if phrase else frozenset(),
    )
