"""Experiment (not part of the service): train the span head on each of the sentences it reads.

    RAG_PATHS__INDEX=/tmp/s27/index python eval/head_training_sentences.py [N] [fold ...]

The head serves by reading the reader's best three sentences, each on its own, and its margin
(best span against "no answer") votes on which one answers. Until now it was trained on the
reader's best sentence only (plus the gold evidence), so it never learned "no answer" from the
second and third sentences it is asked to tell apart. This trains fold heads on the best N
sentences (3 by default; each its own example) and compares them with the cached heads trained on
one, on the documents of the given folds (all five by default), as the service answers them:
reader models left out one document at a time, heads one fold of documents at a time. Answerable
questions: token F1 of the served answer without abstention and how often its sentence holds a
gold answer; all questions: AUROC of the largest margin for telling answerable from unanswerable.
"""

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from rag.answering.span_model import ensure_span_head
from rag.config import load_settings
from rag.eval.fit import fit_model, head_examples, held_out_models, load_sets, open_and_collect
from rag.eval.metrics import token_f1
from rag.eval.span_training import HELD_OUT_FOLDS, folds_of, trained

SENTENCES = int(sys.argv[1]) if len(sys.argv) > 1 else 3
FOLDS = [int(f) for f in sys.argv[2:]] or list(range(HELD_OUT_FOLDS))

t0 = time.time()
settings = load_settings()
opened = open_and_collect(settings, load_sets(Path("eval/sets.toml")))
samples = [s for o in opened for s in o.samples]
reader = opened[0].service.answerer
final = fit_model(reader, samples)
models = held_out_models(reader, samples)
folder = Path(settings.paths.index) / "span-heads"
variants = {1: head_examples(opened, final, 1), SENTENCES: head_examples(opened, final, SENTENCES)}
fold_of = folds_of([e.group for e in variants[1]], HELD_OUT_FOLDS)
print("examples", {n: len(e) for n, e in variants.items()}, round(time.time() - t0), "s", flush=True)

for fold in FOLDS:
    heads = {}
    for n, examples in variants.items():
        training = [e for e in examples if fold_of[e.group] != fold]
        heads[n] = ensure_span_head(folder, trained(training, folder, f"fold-{fold}"))
    for n, head in heads.items():
        f1, holds, margins, answerable = [], [], [], []
        for o in opened:
            r = o.service.answerer
            for s in o.samples:
                if fold_of.get(s.group) != fold:
                    continue
                if not s.reading.proposals:
                    if s.item.answerable:
                        f1.append(0.0), holds.append(False)
                    continue
                logits = r.scores(s.reading, models[s.group])
                headed = r.head_reading(head, s.item.question, s.reading, logits)
                margins.append(headed.margin if headed else -10.0)
                answerable.append(s.item.answerable)
                if not s.item.answerable:
                    continue
                chosen = headed.choice.proposal if headed else s.reading.proposals[int(np.argmax(logits))]
                text = r.text_of[chosen.sentence.doc_id]
                f1.append(token_f1(" ; ".join(text[a:b] for a, b in chosen.parts), s.item.answers))
                holds.append(any(a and a in chosen.sentence.text for a in s.item.answers))
        auroc = roc_auc_score(answerable, margins) if len(set(answerable)) == 2 else float("nan")
        print(f"fold {fold} trained on {n} sentence(s): answerable {len(f1)}, F1 {np.mean(f1):.4f}, "
              f"sentence holds an answer {np.mean(holds):.4f}, margin AUROC {auroc:.4f}", flush=True)
print("done", round(time.time() - t0), "s")
