"""Experiment (not part of the service): the span head's start/end scores as a vote on the reader's candidates.

    RAG_PATHS__INDEX=/tmp/s27/index python eval/head_span_votes.py [dump.pkl]

Inside the sentence the service answers from, the reader's best candidate scores F1 0.61 and the
head's own best span 0.61 when the sentence holds the answer, while the best candidate there
would score 0.93. The head gives a start and an end score to every word piece, so it can score
each of the reader's candidates by its boundaries (start score of its first piece + end score of
its last, minus "no answer"). For every answerable gold question: the sentence the service
chooses (reader models left out one document at a time, heads one fold of documents at a time,
as `rag fit --report`), each candidate of it with the reader's score, the head's boundary score
and its token F1; then F1 of choosing by reader score + lambda x head score, lambda per
left-out document (LODO). A dump given on the command line is read instead of recomputed.
"""
import os
import sys

DUMP = sys.argv[1] if len(sys.argv) > 1 else "head_span_votes.pkl"
if not os.path.exists(DUMP):
    import pickle
    import time
    from pathlib import Path

    import numpy as np

    from rag.config import load_settings
    from rag.eval.fit import fit_model, head_examples, held_out_models, load_sets, open_and_collect
    from rag.eval.metrics import token_f1
    from rag.eval.span_training import held_out_heads

    def short_answer(question):
        """The gate of the time: the head's own span answered only these (not why, how, definition, list)."""
        return question.kind not in {"reason", "manner", "definition"} and not question.wants_list

    t0 = time.time()
    settings = load_settings()
    opened = open_and_collect(settings, load_sets(Path("eval/sets.toml")))
    samples = [s for o in opened for s in o.samples]
    reader = opened[0].service.answerer
    models = held_out_models(reader, samples)
    heads = held_out_heads(head_examples(opened, fit_model(reader, samples)), Path(settings.paths.index) / "span-heads")
    print("models and heads", round(time.time() - t0), flush=True)
    rows = []
    for o in opened:
        service, found = o.service, o.samples
        r = service.answerer
        for s in found:
            if not (s.item.answerable and s.reading.proposals):
                continue
            logits = r.scores(s.reading, models[s.group])
            head = heads[s.group]
            headed = r.head_reading(head, s.item.question, s.reading, logits)  # as of commit 691e62b
            best = int(np.argmax(logits))
            served = headed.choice.proposal if headed is not None and headed.choice is not None else s.reading.proposals[best]
            sentence = served.sentence
            encoding, start, end = head.logits(s.item.question, sentence.text)
            pieces = [(i, a, b) for i, (sid, (a, b)) in enumerate(zip(encoding.sequence_ids, encoding.offsets)) if sid == 1]
            null = float(start[0] + end[0])
            candidates = []
            for i, p in enumerate(s.reading.proposals):
                if p.sentence.sentence_id != sentence.sentence_id:
                    continue
                score = None
                if len(p.parts) == 1:
                    a, b = p.parts[0][0] - sentence.start, p.parts[0][1] - sentence.start
                    first = next((k for k, x, y in pieces if y > a), None)
                    last = max((k for k, x, y in pieces if x < b), default=None)
                    if first is not None and last is not None and last >= first:
                        score = float(start[first] + end[last]) - null
                candidates.append(dict(logit=float(logits[i]), head=score, f1=float(s.quality[i]), kind=p.kind))
            text = r.text_of[sentence.doc_id]
            served_text = " ; ".join(text[a:b] for a, b in served.parts)
            rows.append(dict(group=s.group, kind=s.item.kind, short=short_answer(s.reading.question),
                             served_f1=token_f1(served_text, s.item.answers), served_kind=served.kind,
                             contains=any(a and a in sentence.text for a in s.item.answers), candidates=candidates))
    pickle.dump(rows, open(DUMP, "wb"))
    print("done", round(time.time() - t0), flush=True)

import pickle
from collections import defaultdict

import numpy as np

rows = pickle.load(open(DUMP, "rb"))


def pick(row, lam, only_short=False):
    cands = row["candidates"]
    if not cands or (only_short and not row["short"]):
        return row["served_f1"]
    scores = [c["logit"] + lam * (c["head"] if c["head"] is not None else -10.0) for c in cands]
    return cands[int(np.argmax(scores))]["f1"]


def policy(lam, rs, only_short=False):
    return float(np.mean([pick(r, lam, only_short) for r in rs]))


print("answerable", len(rows), "served", round(np.mean([r["served_f1"] for r in rows]), 4),
      "oracle in sentence", round(np.mean([max([c["f1"] for c in r["candidates"]] or [r["served_f1"]]) for r in rows]), 4))
grid = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0]
for lam in grid:
    print("lambda", lam, "all", round(policy(lam, rows), 4), "short only", round(policy(lam, rows, True), 4))
groups = sorted({r["group"] for r in rows})
for only_short in (False, True):
    held = []
    for g in groups:
        train = [r for r in rows if r["group"] != g]
        lam = max(grid, key=lambda v: policy(v, train, only_short))
        held += [pick(r, lam, only_short) for r in rows if r["group"] == g]
    print("LODO", "short only" if only_short else "all", round(float(np.mean(held)), 4))
by = defaultdict(list)
for r in rows:
    by[r["kind"]].append(r)
for kind, rs in sorted(by.items()):
    print(kind, len(rs), "served", round(np.mean([r["served_f1"] for r in rs]), 3),
          *(f"l{lam}:{policy(lam, rs):.3f}" for lam in (0.1, 0.3, 1.0)))
