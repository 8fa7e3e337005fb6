"""Experiment (not part of the service): the span head's margin as a vote on the answer's sentence.

    RAG_PATHS__INDEX=/tmp/head-choice python eval/head_sentence_choice.py [dump.pkl]

For every gold question: the reader's three best sentences under the reader model fitted
without the question's document, and what a span head fine-tuned without the document's fold
(five folds, as `rag fit --report`) finds in each sentence read on its own: its best span, that
span's score and the "no answer" score. Then, answerable questions only, token F1 without
abstention of: the reader; the head on the best sentence (the earlier opt-in); the sentence
chosen by reader score + w x head margin for N = 2, 3 sentences and several w, with the head's
span in it for short-answer questions; w chosen per left-out document (LODO). About 35 min (the
five heads); a dump given on the command line is read instead of recomputed.
Results in eval/EXPERIMENTS.md (session of 2026-11-30, afternoon).
"""
import os
import sys

DUMP = sys.argv[1] if len(sys.argv) > 1 else "head_sentence_choice.pkl"
if not os.path.exists(DUMP):
    import pickle, sys, time
    from pathlib import Path
    import numpy as np
    from rag.config import load_settings
    from rag.eval.fit import load_sets, open_and_collect, fit_model, head_examples, held_out_models
    from rag.eval.samples import answer_text
    from rag.eval.span_training import held_out_heads
    from rag.eval.metrics import token_f1
    from rag.answering.span import best_sentences

    t0 = time.time()
    settings = load_settings()
    opened = open_and_collect(settings, load_sets(Path("eval/sets.toml")))
    samples = [s for o in opened for s in o.samples]
    reader = opened[0].service.answerer
    print("collected", len(samples), time.time() - t0, flush=True)
    final = fit_model(reader, samples)
    models = held_out_models(reader, samples)
    print("models", time.time() - t0, flush=True)
    examples = head_examples(opened, final)
    heads = held_out_heads(examples, Path(settings.paths.index) / "span-heads")
    print("heads", time.time() - t0, flush=True)
    rows = []
    for o in opened:
        service, found = o.service, o.samples
        r = service.answerer
        for s in found:
            if not s.reading.proposals:
                rows.append(dict(id=s.item.id, group=s.group, genre=s.genre, kind=s.item.kind, answerable=s.item.answerable, sents=[]))
                continue
            model = models[s.group]
            logits = r.scores(s.reading, model)
            head = heads[s.group]
            best = best_sentences(s.reading.proposals, logits, 3)
            sents = []
            sid_of = np.array([p.sentence.sentence_id for p in s.reading.proposals])
            for rank, p in enumerate(best):
                idx = [i for i, q in enumerate(s.reading.proposals) if q is p][0]
                text = r.text_of[p.sentence.doc_id]
                span = head.best(s.item.question, [p.sentence.text])
                htext = p.sentence.text[span.start:span.end].strip().rstrip(".,;:") if span else ""
                sents.append(dict(rank=rank, logit=float(logits[idx]), reader=answer_text(r, p.parts, p.sentence.doc_id),
                                  reader_f1=float(s.quality[idx]) if s.item.answerable else 0.0,
                                  best_f1=float(s.quality[sid_of == p.sentence.sentence_id].max()) if s.item.answerable else 0.0,
                                  sentence=p.sentence.text,
                                  sent_f1=token_f1(p.sentence.text, s.item.answers) if s.item.answerable else 0.0,
                                  contains=any(a and a in p.sentence.text for a in s.item.answers),
                                  head=htext, head_score=span.score if span else 0.0, head_null=span.null if span else 0.0,
                                  head_f1=token_f1(htext, s.item.answers) if s.item.answerable else 0.0,
                                  nprop=int((sid_of == p.sentence.sentence_id).sum())))
            rows.append(dict(id=s.item.id, group=s.group, genre=s.genre, kind=s.item.kind, answerable=s.item.answerable,
                             qkind=s.reading.question.kind, wants_list=s.reading.question.wants_list, sents=sents,
                             answers=s.item.answers, question=s.item.question))
    pickle.dump(rows, open(DUMP, "wb"))
    print("done", time.time() - t0, flush=True)

import pickle, sys, numpy as np
from collections import defaultdict
rows = pickle.load(open(DUMP, "rb"))
ans = [r for r in rows if r["answerable"] and r["sents"]]
LONG = {"reason", "manner", "definition"}
def short(r): return r["qkind"] not in LONG and not r["wants_list"]
def pick_in(r, s, gate=True):
    m = s["head_score"] - s["head_null"]
    if (not gate or short(r)) and m > 0 and s["head"]:
        return s["head_f1"]
    return s["reader_f1"]
def policy(w, n, gate=True, rs=ans):
    out = []
    for r in rs:
        ss = r["sents"][:n]
        sc = [s["logit"] + w * (s["head_score"] - s["head_null"]) for s in ss]
        out.append(pick_in(r, ss[int(np.argmax(sc))], gate))
    return np.mean(out)
print("n", len(ans))
print("reader", np.mean([r["sents"][0]["reader_f1"] for r in ans]))
print("shipped head", policy(0, 1))
print("head everywhere top1", policy(0, 1, gate=False))
print("contains@1", np.mean([r["sents"][0]["contains"] for r in ans]), "contains@3", np.mean([any(s["contains"] for s in r["sents"]) for r in ans]))
for n in (2, 3):
    for w in (0.05, 0.1, 0.2, 0.3, 0.5, 1.0):
        print(n, w, round(policy(w, n), 4), round(policy(w, n, gate=False), 4))
# sentence choice accuracy
for w in (0, 0.1, 0.3, 1.0, 100):
    acc = np.mean([r["sents"][int(np.argmax([s["logit"] + w*(s["head_score"]-s["head_null"]) for s in r["sents"][:3]]))]["contains"] for r in ans])
    print("acc w", w, acc)
# logit scale
print("logit gaps", np.percentile([r["sents"][0]["logit"] - r["sents"][-1]["logit"] for r in ans if len(r["sents"]) > 1], [25, 50, 75]))
print("margins", np.percentile([s["head_score"] - s["head_null"] for r in ans for s in r["sents"]], [10, 25, 50, 75, 90]))
# LODO-CV of w
groups = sorted({r["group"] for r in ans})
grid = [0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0]
for n in (2, 3):
    tot = []
    for g in groups:
        tr = [r for r in ans if r["group"] != g]; te = [r for r in ans if r["group"] == g]
        w = max(grid, key=lambda w: policy(w, n, True, tr))
        tot += [policy(w, n, True, [r]) for r in te]
    print("LODO n", n, np.mean(tot))
def policy2(w, n, rs=ans, sent_gate=True):
    out = []
    for r in rs:
        ss = r["sents"][:n]
        ww = w if (short(r) or not sent_gate) else 0.0
        sc = [s["logit"] + ww * (s["head_score"] - s["head_null"]) for s in ss]
        out.append(pick_in(r, ss[int(np.argmax(sc))], True))
    return np.mean(out)
for n in (2, 3):
    for w in (0.1, 0.2, 0.3, 0.5, 1.0):
        print("sent-gated", n, w, round(policy2(w, n), 4))
# by kind at best
for k in sorted({r["kind"] for r in ans}):
    rs = [r for r in ans if r["kind"] == k]
    print(k, len(rs), "reader", round(np.mean([r["sents"][0]["reader_f1"] for r in rs]), 3), "shipped", round(policy(0, 1, True, rs), 3),
          "n3 w.3", round(policy(0.3, 3, True, rs), 3))
