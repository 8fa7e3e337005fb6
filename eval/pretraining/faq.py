"""FAQ questions paired with their answers' first sentences, for fine-tuning the span head beside the gold.

    python eval/pretraining/faq.py   # writes eval/pretraining/faq.json.gz and FAQ_SOURCES.tsv
    rag fit --faq-pairs eval/pretraining/faq.json.gz   # every head also learns from them (not the default)

Measured and not taken (eval/EXPERIMENTS.md, "FAQ pairs"): held out, paraphrased questions gain and
how/why questions lose about as much.

The cloze questions (``build.py``) are their own sentence with a word taken out: they teach the
head where an answer lies in a sentence that shares most of the question's words, not whether a
sentence answers a question put in other words, which is where the reader loses most (held out,
answers from a wrong sentence cost 0.29 of F1; paraphrased questions find the right one 41% of the
time). A FAQ is written the other way round: a question as a user asks it, then the answer in the
author's words. Each of its questions gives two examples: the first sentence of its answer (of at
least ``MIN_WORDS`` words), answered by that sentence (its first clause when it is long), and the
sentence of another answer on the same page that shares the most content words with the question,
answered by nothing (a hard "no answer"; not the neighbouring questions' answers, which often
answer it too).

Pages come from documentation packages installed for the purpose, none of whose FAQ pages is a
gold document: python3.11-doc (faq/, but general.rst, which the corpus holds), perl-doc
(perlfaq2-9 and perlunifaq; perlfaq1 is in the corpus), git-doc (gitfaq), python-sqlalchemy-doc
(faq/) and python-django-doc (faq/, through pandoc). Every corpus and unseen source is left out by
name, as in ``build.py``. The output is committed: the packages are not on a CI machine.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent / "corpus"))

from build import SOURCES, UNSEEN, django_page  # noqa: E402  (eval/corpus/build.py)

OUT = HERE / "faq.json.gz"
GOLD_PAGES = frozenset(str(source) for _, _, _, source, _ in (*SOURCES, *UNSEEN))
MIN_WORDS = 5  # "Yes." or "It depends." opens many answers; the sentence after it is the answer
LONG_WORDS = 40  # a longer first sentence is answered by its first clause (the head marks at most 30 pieces)
_POD_CODE = re.compile(r"[A-Z]<(?:<+\s(.*?)\s>+|([^<>]*))>", re.S)
_POD_ENTITY = {"gt": ">", "lt": "<", "verbar": "|", "sol": "/"}


def pod_markdown(pod: str) -> str:
    """A POD page as Markdown-like text: ``=headN`` as ATX headings, formatting codes as their text,
    verbatim paragraphs kept indented (code, which the segmenter leaves out of prose)."""
    lines: list[str] = []
    for line in pod.splitlines():
        heading = re.match(r"=head(\d)\s+(.*)", line)
        if heading:
            lines.append("#" * int(heading.group(1)) + " " + heading.group(2))
        elif line.startswith("="):
            lines.append("")
        else:
            lines.append(line)
    text = "\n".join(lines)
    for _ in range(3):  # nested codes, innermost first
        text = _POD_CODE.sub(lambda m: _pod_code(m.group(0)[0], m.group(1) or m.group(2) or ""), text)
    return text


def _pod_code(code: str, inner: str) -> str:
    if code == "E":
        return _POD_ENTITY.get(inner, "")
    if code == "L":
        return inner.split("|")[0] if "|" in inner else inner.split("/")[-1].strip('"')
    return "" if code in "XZ" else inner


def gitfaq_markdown(text: str) -> str:
    """gitfaq's AsciiDoc: each ``Question?::`` term becomes a heading, ``+`` continuation lines blank."""
    text = re.sub(r"^\[\[[^\]]*\]\]\n", "", text, flags=re.M)
    text = re.sub(r"^(.+\?)::\s*$", r"## \1", text, flags=re.M)
    return re.sub(r"^\+\s*$", "", text, flags=re.M)


def sources() -> list[tuple[Path, Callable[[Path], str]]]:
    def read(path: Path) -> str:
        return path.read_text(encoding="utf-8", errors="replace")

    def pod(path: Path) -> str:
        return pod_markdown(read(path))

    def gitfaq(path: Path) -> str:
        return gitfaq_markdown(read(path))

    found: list[tuple[Path, Callable[[Path], str]]] = []
    found += [(Path(p), read) for p in sorted(glob.glob("/usr/share/doc/python3.11/html/_sources/faq/*.rst.txt"))]
    found += [(Path(p), read) for p in sorted(glob.glob("/usr/share/doc/python-sqlalchemy-doc/rst/faq/*.rst"))]
    found += [(Path(f"/usr/share/perl/5.36.0/pod/perlfaq{n}.pod"), pod) for n in range(2, 10)]
    found += [(Path("/usr/share/perl/5.36.0/pod/perlunifaq.pod"), pod)]
    found += [(Path("/usr/share/doc/git-doc/gitfaq.txt"), gitfaq)]
    found += [(Path(p), django_page) for p in sorted(glob.glob("/usr/share/doc/python-django-doc/html/faq/*.html"))]
    return [(p, convert) for p, convert in found if str(p) not in GOLD_PAGES and p.stem.split(".")[0] != "index"]


def plain(text: str) -> str:
    """A heading as a user would type it: markup and reference roles dropped, white space single."""
    text = re.sub(r":[\w:-]+:`([^`<]*?)(?:\s*<[^>]*>)?`", r"\1", text)
    text = re.sub(r"[`*_]+|\\", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return " ".join(text.lstrip("#").split())


def sections(text: str) -> list[tuple[str, list[str]]]:
    """(question, its answer's prose sentences) for every heading that asks something."""
    from rag.text.segment import segments

    found: list[tuple[str, list[str]]] = []
    for s in segments(text):
        raw = text[s.start : s.end]
        if s.kind == "heading":
            found.append((plain(raw), []))
        elif found and s.kind in ("paragraph", "list_item", "definition"):
            found[-1][1].append(raw)
    return [(q, body) for q, body in found if q.endswith("?") and q[:1].isalnum() and len(q.split()) >= 3 and body]


def prose(sentence: str) -> bool:
    """Running text, not code: mostly words, no line that ends like a statement or a block."""
    tokens = sentence.split()
    wordy = sum(bool(re.fullmatch(r"[A-Za-z][a-z'’-]*[,.;:?!)]?", t)) for t in tokens)
    return len(tokens) >= MIN_WORDS and wordy >= 0.6 * len(tokens) and not re.search(r"[;{}]\s*(?:\n|$)", sentence)


def page_examples(text: str) -> list[dict[str, object]]:
    from rag.text.normalize import content_terms
    from rag.text.segment import clause_spans

    asked = sections(text)
    examples: list[dict[str, object]] = []
    for number, (question, body) in enumerate(asked):
        first = next((s for s in body if prose(s)), None)
        if first is None:
            continue
        end = len(first.rstrip(" .:"))
        if len(first.split()) > LONG_WORDS:
            end = clause_spans(first, 0, len(first))[0][1]
        examples.append({"question": question, "context": first, "answer": [0, end]})
        terms = set(content_terms(question))
        # not the neighbouring answers: a FAQ's next question is often the same one narrowed down
        others = [s for n, (_, b) in enumerate(asked) if abs(n - number) > 1 for s in b if prose(s)]
        if others:
            negative = max(others, key=lambda s: (len(terms & set(content_terms(s))), -len(s)))
            examples.append({"question": question, "context": negative, "answer": None})
    return examples


def main() -> int:
    pages = sources()
    examples: list[dict[str, object]] = []
    rows = ["page\tsha256\tquestions"]
    for path, convert in pages:
        found = page_examples(convert(path))
        examples += found
        answered = sum(e["answer"] is not None for e in found)
        rows.append(f"{path}\t{hashlib.sha256(path.read_bytes()).hexdigest()}\t{answered}")
    data = json.dumps(examples, ensure_ascii=False, indent=0).encode()
    OUT.write_bytes(gzip.compress(data, mtime=0))
    (HERE / "FAQ_SOURCES.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    answered = sum(e["answer"] is not None for e in examples)
    print(f"{len(examples)} examples ({answered} answered) from {len(pages)} pages -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
