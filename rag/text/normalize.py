"""Normalisation for matching that never moves an offset.

``fold`` maps each character to exactly one character (curly quotes to straight ones,
dashes to ``-``, upper to lower case), so a position in the folded text is the same
position in the raw text. ``words`` finds word spans on the folded text and returns
them with raw offsets. Left out on purpose: Unicode normalisation forms (NFKC would
change lengths) and language-specific folding beyond ``str.lower``.

Text formatted by nroff (manual pages, some READMEs) writes bold as "X\bX" and underline as
"_\bX": a word spelled that way is the same word, and ``visible`` is the text a reader sees
(for the embedding model, which needs no offsets).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import Stemmer

_ONE_TO_ONE = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-", "\u00a0": " ", "\u202f": " ",
    }
)  # fmt: skip

_WORD = re.compile(r"[\w\b]+(?:['.][\w\b]+)*")  # \b (backspace) inside a character class: nroff's overstrike
_OVERSTRUCK = re.compile(r".\x08")

# Function words and question words: they carry no topic, so they neither match nor count.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself s t
    whose according might must may also yet still""".split()
)


def fold(text: str) -> str:
    """Lower-case, straighten quotes and unify dashes, keeping ``len`` and every offset."""
    folded = text.translate(_ONE_TO_ONE)
    return "".join(_lower_one(c) for c in folded) if not folded.isascii() else folded.lower()


def _lower_one(char: str) -> str:
    lowered = char.lower()
    return lowered if len(lowered) == 1 else char  # e.g. "İ" lowers to two code points


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def words(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, folded_word)`` for each word; possessive ``'s`` is dropped from the word."""
    folded = fold(text)
    for match in _WORD.finditer(folded):
        word, end = match.group(), match.end()
        if word.endswith("'s"):
            word, end = word[:-2], end - 2
        if "\x08" in word:
            word = visible(word).strip("\x08")
            if not word:
                continue
        yield match.start(), end, word


def visible(text: str) -> str:
    """``text`` as printed: each overstruck character ("X\bX", "_\bX") once."""
    return _OVERSTRUCK.sub("", text) if "\x08" in text else text


def stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


def content_terms(text: str) -> list[str]:
    """Stemmed words that are not stop words, in order (duplicates kept): what BM25 indexes."""
    return [stem(w) for _, _, w in words(text) if w not in STOPWORDS and not _is_noise(w)]


def _is_noise(word: str) -> bool:
    return len(word) < 2 and not word.isdigit()
