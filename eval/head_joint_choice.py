"""Experiment (not part of the service): choose the sentence and the candidate together.

    RAG_PATHS__INDEX=/tmp/s27/index python eval/head_joint_choice.py [dump.pkl]

The service (commit bed9bf2) chooses in two steps: the sentence by its best candidate's reader
score + w x the head's margin there, then the candidate inside it by reader score + lambda x the
head's score for its boundaries. Here every candidate of the reader's three best sentences (all
read, no pruning) gets reader score + w x its sentence's margin + lambda x its boundary score, and
the best one answers. Reader models left out by document, heads by fold, as `rag fit --report`;
answerable questions, token F1 without abstention; w and lambda also chosen per left-out document.
HEAD_TRAINING_SENTENCES=3 takes the heads trained on each of the three best sentences (the default
since the session of 2026-11-30, late) instead of the best one.
"""
import os
import sys

DUMP = sys.argv[1] if len(sys.argv) > 1 else "head_joint_choice.pkl"
if not os.path.exists(DUMP):
    import pickle
    import time
    from pathlib import Path

    from rag.answering.span import best_of_sentences, boundary_vote
    from rag.config import load_settings
    from rag.eval.fit import fit_model, head_examples, held_out_models, load_sets, open_and_collect
    from rag.eval.span_training import held_out_heads

    t0 = time.time()
    settings = load_settings()
    opened = open_and_collect(settings, load_sets(Path("eval/sets.toml")))
    samples = [s for o in opened for s in o.samples]
    reader = opened[0].service.answerer
    models = held_out_models(reader, samples)
    trained_on = int(os.environ.get("HEAD_TRAINING_SENTENCES", "1"))
    examples = head_examples(opened, fit_model(reader, samples), trained_on)
    heads = held_out_heads(examples, Path(settings.paths.index) / "span-heads")
    print("models and heads", round(time.time() - t0), flush=True)
    rows = []
    for o in opened:
        service, found = o.service, o.samples
        for s in found:
            if not (s.item.answerable and s.reading.proposals):
                continue
            logits = service.answerer.scores(s.reading, models[s.group])
            sentences = []
            for rank, i in enumerate(best_of_sentences(logits, s.reading.proposals, 3)):
                sentence = s.reading.proposals[i].sentence
                read = heads[s.group].read(s.item.question, [sentence.text])
                if read is None:
                    continue
                span, pieces = read
                candidates = [dict(logit=float(logits[k]), vote=boundary_vote(pieces, p, sentence.start),
                                   f1=float(s.quality[k]))
                              for k, p in enumerate(s.reading.proposals) if p.sentence.sentence_id == sentence.sentence_id]
                sentences.append(dict(rank=rank, margin=span.margin, candidates=candidates))
            rows.append(dict(group=s.group, kind=s.item.kind, sentences=sentences))
    pickle.dump(rows, open(DUMP, "wb"))
    print("done", round(time.time() - t0), flush=True)

import pickle

import numpy as np

rows = [r for r in pickle.load(open(DUMP, "rb")) if r["sentences"]]


def votes(sentence):
    scored = [c["vote"] for c in sentence["candidates"] if c["vote"] is not None]
    floor = min(scored, default=0.0)
    return [c["vote"] if c["vote"] is not None else floor for c in sentence["candidates"]]


def two_step(row, w, lam):
    best = max(row["sentences"], key=lambda s: (max(c["logit"] for c in s["candidates"]) + w * s["margin"], -s["rank"]))
    v = votes(best)
    k = max(range(len(v)), key=lambda k: best["candidates"][k]["logit"] + lam * v[k])
    return best["candidates"][k]["f1"]


def joint(row, w, lam):
    options = [(c["logit"] + w * s["margin"] + lam * v, c["f1"]) for s in row["sentences"]
               for c, v in zip(s["candidates"], votes(s))]
    return max(options, key=lambda o: o[0])[1]


def mean(policy, w, lam, rs=rows):
    return float(np.mean([policy(r, w, lam) for r in rs]))


print("answerable", len(rows))
print("two steps, w .2, lambda .2 (the service, unpruned)", round(mean(two_step, 0.2, 0.2), 4))
grid_w, grid_l = [0.0, 0.1, 0.2, 0.3, 0.5], [0.0, 0.1, 0.2, 0.3, 0.5]
for w in grid_w:
    print("two steps w", w, [round(mean(two_step, w, lam), 4) for lam in grid_l])
for w in grid_w:
    print("joint w", w, [round(mean(joint, w, lam), 4) for lam in grid_l])
groups = sorted({r["group"] for r in rows})
for name, policy in (("two steps", two_step), ("joint", joint)):
    held = []
    for g in groups:
        train = [r for r in rows if r["group"] != g]
        w, lam = max(((w, lam) for w in grid_w for lam in grid_l), key=lambda p: mean(policy, *p, train))
        held += [policy(r, w, lam) for r in rows if r["group"] == g]
    print("LODO", name, round(float(np.mean(held)), 4))
