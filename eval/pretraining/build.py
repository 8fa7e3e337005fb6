"""Synthetic cloze questions for pretraining the span head (``rag fit`` pretrains on them by default).

    python eval/pretraining/build.py [LIMIT]   # writes eval/pretraining/cloze.json.gz and SOURCES.tsv

Lewis et al. 2019 ("Unsupervised Question Answering by Cloze Translation") in its naive form: the
question is a prose sentence with the answer taken out, a wh-word put first (by the answer's
entity type: who, when, where, how many, what), some words dropped and some shuffled. Answers are
named entities and subject/object noun phrases (spaCy). A quarter of the questions are paired with
another sentence of the same page that does not hold the answer, their target "no answer".

Sentences come from documentation packages installed for the purpose (python3.11-doc's howto,
tutorial, faq, using, reference, whatsnew and library pages; python-tornado-doc, python-click-doc,
python-pygments-doc, python-setuptools-doc, python-attr-doc, python-werkzeug-doc): prose of 8-50
words with no markup. The source of every corpus and unseen document (eval/corpus/build.py's
SOURCES and UNSEEN) is left out, so no gold document's text is learned before its held-out fold.
The output is committed: the packages are not on a CI machine, and the questions are seeded.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent / "corpus"))

from build import SOURCES, UNSEEN  # noqa: E402  (eval/corpus/build.py: every page the gold sets use)

OUT = HERE / "cloze.json.gz"
PYTHON_DOCS = "/usr/share/doc/python3.11/html/_sources/"
PYTHON_SECTIONS = ("howto", "tutorial", "faq", "using", "reference", "whatsnew", "library")
PACKAGES = ("python-tornado-doc", "python-click-doc", "python-pygments-doc", "python-setuptools-doc",
            "python-attr-doc", "python-werkzeug-doc")
GOLD_PAGES = frozenset(str(source) for _, _, _, source, _ in (*SOURCES, *UNSEEN))
WH = {"PERSON": "who", "NORP": "which group", "ORG": "which organization", "GPE": "where", "LOC": "where",
      "FAC": "where", "DATE": "when", "TIME": "when", "CARDINAL": "how many", "QUANTITY": "how much",
      "MONEY": "how much", "PERCENT": "what percentage", "PRODUCT": "which product", "EVENT": "which event",
      "LANGUAGE": "which language", "WORK_OF_ART": "which work", "LAW": "which law"}
NO_ANSWER_SHARE = 0.25
DROP_WORD = 0.1  # each remaining word is dropped with this probability
SHUFFLE_SHARE = 0.3  # questions whose words are shuffled within a window of 3


def pages() -> list[str]:
    found = [f for sub in PYTHON_SECTIONS for f in sorted(glob.glob(f"{PYTHON_DOCS}{sub}/*.rst.txt"))]
    for package in PACKAGES:
        found += sorted(glob.glob(f"/usr/share/doc/{package}/html/_sources/**/*.rst.txt", recursive=True))
    return [f for f in found if f not in GOLD_PAGES]


def prose_sentences(page_files: list[str]) -> list[tuple[int, str]]:
    """(page number, sentence) for every plain prose sentence of 8-50 words."""
    from rag.text.segment import segments

    found = []
    for number, page in enumerate(page_files):
        text = Path(page).read_text(encoding="utf-8")
        for s in segments(text):
            raw = text[s.start : s.end]
            if s.kind in ("paragraph", "list_item", "definition") and 8 <= len(raw.split()) <= 50 and not re.search(
                r"[`:*_|<>\\]", raw
            ):
                found.append((number, raw))
    return found


def cloze_questions(sentences: list[tuple[int, str]], limit: int, rng: random.Random) -> list[dict[str, object]]:
    from rag.text.linguistics import pipeline

    rng.shuffle(sentences)
    by_page: dict[int, list[str]] = {}
    for number, raw in sentences:
        by_page.setdefault(number, []).append(raw)
    examples: list[dict[str, object]] = []
    flattened = (" ".join(raw.split()) for _, raw in sentences)
    for (number, raw), doc in zip(sentences, pipeline().pipe(flattened, batch_size=64), strict=True):
        if len(examples) >= limit:
            break
        spans = [(e.start_char, e.end_char, WH.get(e.label_, "what"), e.start, e.end) for e in doc.ents
                 if e.label_ != "ORDINAL"]  # fmt: skip
        spans += [(c.start_char, c.end_char, "what", c.start, c.end) for c in doc.noun_chunks
                  if c.root.dep_ in ("nsubj", "nsubjpass", "dobj", "pobj", "attr") and not all(t.is_stop for t in c)]
        if not spans:
            continue
        a, b, wh, first, last = rng.choice(spans)
        answer = doc.text[a:b]
        words = [t.text for i, t in enumerate(doc) if not (first <= i < last) and not t.is_punct
                 and rng.random() > DROP_WORD]  # fmt: skip
        if rng.random() < SHUFFLE_SHARE:
            keys = [i + rng.uniform(0, 3) for i in range(len(words))]
            words = [w for _, w in sorted(zip(keys, words, strict=True))]
        if len(answer) < 2 or len(answer.split()) > 8 or not 3 <= len(words) <= 40:
            continue
        question = (wh + " " + " ".join(words)).strip() + "?"
        question = question[0].upper() + question[1:]
        found = re.search(r"\s+".join(re.escape(w) for w in answer.split()), raw)  # white space may differ
        if not found:
            continue
        if rng.random() < NO_ANSWER_SHARE:
            others = [t for t in by_page[number] if answer not in t and t != raw]
            if others:
                examples.append({"question": question, "context": rng.choice(others), "answer": None})
            continue
        examples.append({"question": question, "context": raw, "answer": [found.start(), found.end()]})
    return examples


def main(limit: int = 20000) -> int:
    page_files = pages()
    sentences = prose_sentences(page_files)
    examples = cloze_questions(sentences, limit, random.Random(0))
    data = json.dumps(examples, ensure_ascii=False, indent=0).encode()
    OUT.write_bytes(gzip.compress(data, mtime=0))
    rows = ["page\tsha256"] + [f"{p}\t{hashlib.sha256(Path(p).read_bytes()).hexdigest()}" for p in page_files]
    (HERE / "SOURCES.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    answered = sum(e["answer"] is not None for e in examples)
    print(f"{len(examples)} questions ({answered} with an answer) from {len(sentences)} sentences of "
          f"{len(page_files)} pages -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:2])))
