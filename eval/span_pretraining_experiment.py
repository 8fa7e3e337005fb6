"""Experiment (not part of the service yet): pretraining the span head on synthetic cloze questions
before its fine-tuning on the gold sets (Lewis et al. 2019, "Unsupervised Question Answering by
Cloze Translation", in its naive form: the question is the sentence itself with the answer taken
out, a wh-word put first, some words dropped and some shuffled).

    python eval/span_pretraining_experiment.py synth OUT.json [LIMIT]   # cloze examples from doc packages
    python eval/span_pretraining_experiment.py pretrain SYNTH.json OUT.pt  # one epoch, torch state dict
    python eval/span_pretraining_experiment.py compare PRETRAINED.pt SCRATCH  # fold 0, both heads

``synth`` reads prose sentences (8-50 words, no markup) of documentation packages installed for
the purpose (python3.11-doc's howto, tutorial, faq, using, reference, whatsnew and library pages;
python-tornado-doc, python-click-doc, python-pygments-doc, python-setuptools-doc, python-attr-doc,
python-werkzeug-doc), leaving out the source of every corpus and unseen document
(eval/corpus/build.py's SOURCES and UNSEEN). Each sentence gives one question
about one of its named entities or subject/object noun phrases (spaCy), worded by the answer's
type (who, when, where, how many, what); a quarter are paired with another sentence of the same
page that does not hold the answer, whose target is "no answer". ``compare`` fine-tunes fold 0's
head (the documents of rag fit's first fold held out) twice on the same gold examples, from
MiniLM and from the pretrained weights, and reads fold 0's questions with each as the service
does (the reader's three best sentences, rag fit's final reader model for both). Results:
eval/EXPERIMENTS.md (2026-12-01).
"""

from __future__ import annotations

import glob
import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent / "corpus"))

from build import SOURCES, UNSEEN  # noqa: E402  (eval/corpus/build.py: every page the gold sets use)

ROOT = Path(__file__).resolve().parents[1]
PYTHON_DOCS = "/usr/share/doc/python3.11/html/_sources/"
PACKAGES = ("python-tornado-doc", "python-click-doc", "python-pygments-doc", "python-setuptools-doc",
            "python-attr-doc", "python-werkzeug-doc")
# Pages no question is written on: every corpus and unseen document's source is left out.
GOLD_PAGES = frozenset(str(source) for _, _, _, source, _ in (*SOURCES, *UNSEEN))
WH = {"PERSON": "who", "NORP": "which group", "ORG": "which organization", "GPE": "where", "LOC": "where",
      "FAC": "where", "DATE": "when", "TIME": "when", "CARDINAL": "how many", "QUANTITY": "how much",
      "MONEY": "how much", "PERCENT": "what percentage", "PRODUCT": "which product", "EVENT": "which event",
      "LANGUAGE": "which language", "WORK_OF_ART": "which work", "LAW": "which law"}


def pages() -> list[str]:
    found = [f for sub in ("howto", "tutorial", "faq", "using", "reference", "whatsnew", "library")
             for f in sorted(glob.glob(f"{PYTHON_DOCS}{sub}/*.rst.txt"))]
    for package in PACKAGES:
        found += sorted(glob.glob(f"/usr/share/doc/{package}/html/_sources/**/*.rst.txt", recursive=True))
    return [f for f in found if f not in GOLD_PAGES]


def synth(out: str, limit: int = 20000) -> None:
    from rag.text.linguistics import pipeline
    from rag.text.segment import segments

    rng = random.Random(0)
    sentences: list[tuple[int, str]] = []
    for number, page in enumerate(pages()):
        text = Path(page).read_text(encoding="utf-8")
        for s in segments(text):
            raw = text[s.start:s.end]
            if s.kind in ("paragraph", "list_item", "definition") and 8 <= len(raw.split()) <= 50 and not re.search(
                    r"[`:*_|<>\\]", raw):
                sentences.append((number, raw))
    rng.shuffle(sentences)
    by_page: dict[int, list[str]] = {}
    for number, raw in sentences:
        by_page.setdefault(number, []).append(raw)
    examples = []
    flattened = (" ".join(raw.split()) for _, raw in sentences)
    for (number, raw), doc in zip(sentences, pipeline().pipe(flattened, batch_size=64)):
        if len(examples) >= limit:
            break
        spans = [(e.start_char, e.end_char, WH.get(e.label_, "what"), e.start, e.end) for e in doc.ents
                 if e.label_ != "ORDINAL"]
        spans += [(c.start_char, c.end_char, "what", c.start, c.end) for c in doc.noun_chunks
                  if c.root.dep_ in ("nsubj", "nsubjpass", "dobj", "pobj", "attr") and not all(t.is_stop for t in c)]
        if not spans:
            continue
        a, b, wh, first, last = rng.choice(spans)
        answer = doc.text[a:b]
        words = [t.text for i, t in enumerate(doc) if not (first <= i < last) and not t.is_punct and rng.random() > 0.1]
        if rng.random() < 0.3:  # local shuffling within a window of 3
            keys = [i + rng.uniform(0, 3) for i in range(len(words))]
            words = [w for _, w in sorted(zip(keys, words))]
        if len(answer) < 2 or len(answer.split()) > 8 or not 3 <= len(words) <= 40:
            continue
        question = (wh + " " + " ".join(words)).strip() + "?"
        found = re.search(r"\s+".join(re.escape(w) for w in answer.split()), raw)  # white space may differ
        if not found:
            continue
        if rng.random() < 0.25:
            others = [t for t in by_page[number] if answer not in t and t != raw]
            if others:
                examples.append({"question": question[0].upper() + question[1:], "context": rng.choice(others),
                                 "answer": None})
            continue
        examples.append({"question": question[0].upper() + question[1:], "context": raw,
                         "answer": [found.start(), found.end()]})
    Path(out).write_text(json.dumps(examples))
    print(len(examples), "examples from", len(sentences), "sentences")


def pretrain(synthetic: str, out: str) -> None:
    import torch

    from rag.eval.span_training import SpanExample, TrainingRecipe, train

    data = json.loads(Path(synthetic).read_text())
    examples = [SpanExample("synthetic", e["question"], e["context"], tuple(e["answer"]) if e["answer"] else None)
                for e in data]
    torch.save(train(examples, TrainingRecipe(epochs=1)).state_dict(), out)


def compare(pretrained: str, scratch: str) -> None:
    import msgspec
    import numpy as np
    import torch

    from rag.answering.span import read_with_head
    from rag.answering.span_export import save_weights
    from rag.answering.span_model import ensure_span_head
    from rag.config import load_settings
    from rag.eval import span_training
    from rag.eval.fit import fit_model, head_examples, load_sets, open_and_collect
    from rag.eval.metrics import token_f1

    folder = Path(scratch)
    settings = load_settings(ROOT / "config" / "rag.toml", environ={"RAG_PATHS__INDEX": str(folder / "index")})
    sets = [msgspec.structs.replace(s, seeds=str(ROOT / s.seeds), gold=[str(ROOT / g) for g in s.gold])
            for s in load_sets(ROOT / "eval" / "sets.toml")]
    opened = open_and_collect(settings, sets)
    samples = [s for o in opened for s in o.samples]
    final = fit_model(opened[0].service.answerer, samples)
    examples = head_examples(opened, final, 3)
    fold_of = span_training.folds_of([e.group for e in examples], 5, 0)
    training = [e for e in examples if fold_of[e.group] != 0]
    state = torch.load(pretrained)
    plain_build = span_training.build

    def pretrained_build(model_dir: Path, layers: int) -> object:
        module = plain_build(model_dir, layers)
        module.load_state_dict(state)
        return module

    heads = {}
    for name, build in (("plain", plain_build), ("pretrained", pretrained_build)):
        weights = folder / f"fold-0-{name}.npz"
        if not weights.exists():
            span_training.build = build
            save_weights(span_training.train(training), 6, weights)
            span_training.build = plain_build
        heads[name] = ensure_span_head(folder, weights)
    for name, head in heads.items():
        for weight, vote in ((0.2, 0.2), (0.2, 0.5), (0.4, 0.5)):
            chosen, own, margins, labels = [], [], [], []
            for o in opened:
                for s in o.samples:
                    if fold_of.get(s.group, -1) != 0 or not s.reading.proposals:
                        continue
                    logits = o.service.answerer.scores(s.reading, final)
                    found = read_with_head(head, s.item.question, s.reading.proposals, logits, 3, weight, vote)
                    if found is None:
                        continue
                    margins.append(found.margin)
                    labels.append(s.item.answerable)
                    if s.item.answerable:
                        chosen.append(float(s.quality[s.reading.proposals.index(found.choice.proposal)]))
                        text = found.choice.proposal.sentence.text
                        own.append(token_f1(text[found.choice.span.start:found.choice.span.end], s.item.answers))
            m, y = np.array(margins), np.array(labels)
            auroc = float((m[y][:, None] > m[~y][None, :]).mean() + 0.5 * (m[y][:, None] == m[~y][None, :]).mean())
            print(f"{name} weight {weight} vote {vote}: F1 of the chosen candidate {np.mean(chosen):.4f}, of the "
                  f"head's own span {np.mean(own):.4f}, margin AUROC {auroc:.4f} ({len(chosen)} answerable)")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"synth": lambda: synth(args[0], int(args[1]) if len(args) > 1 else 20000),
     "pretrain": lambda: pretrain(*args), "compare": lambda: compare(*args)}[command]()
