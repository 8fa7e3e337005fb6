"""Experiment (not part of the service): a span head fine-tuned on MiniLM against the reader, both
given the gold evidence, so only the choice of the span inside it is compared.

    python eval/span_head_experiment.py span [folds] [epochs]   # fine-tune per fold, documents held out
    python eval/span_head_experiment.py reader                  # the shipped reader on the same evidence

``span``: the packaged all-MiniLM-L6-v2 with a start/end head, fine-tuned (torch, CPU) on
"question [SEP] evidence" pairs of the gold sets, five folds by document; each fold's model picks
the best span (at most 31 tokens) in the evidence of its held-out documents' questions.
``reader``: the shipped reader proposes and scores candidates of the evidence's sentences only
(in-sample: the shipped model was fitted on these questions, so this favours the reader).
Results are recorded in eval/EXPERIMENTS.md (session of 2026-11-30).
"""
import sys

def span_main(argv):

    import random, sys, time, glob
    from pathlib import Path
    import numpy as np
    import torch
    from transformers import AutoTokenizer, AutoModel
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from rag.embedding.base import packaged_model_path
    from rag.eval.metrics import token_f1, load_gold

    torch.set_num_threads(2)
    torch.manual_seed(0); random.seed(0)
    path = packaged_model_path()
    tok = AutoTokenizer.from_pretrained(path)

    items = []
    for f in sorted(glob.glob("eval/corpus/gold/*.jsonl")) + ["eval/dev.jsonl", "eval/own.jsonl"]:
        for it in load_gold(Path(f)):
            if not it.answerable or not it.evidence:
                continue
            ctx = " ".join(e.text for e in it.evidence)
            ans = next((a for a in it.answers if a in ctx), None)
            if ans is None:
                continue
            doc = it.doc or "article"
            items.append((doc, it.question, ctx, ctx.index(ans), ctx.index(ans) + len(ans), it.answers))
    docs = sorted({d for d, *_ in items})
    random.shuffle(docs)
    folds = int(argv[0]) if len(argv) > 0 else 5
    fold_of = {d: i % folds for i, d in enumerate(docs)}
    print(len(items), "questions over", len(docs), "documents;", folds, "folds", flush=True)

    MAX = 256
    def encode(batch):
        enc = tok([q for _, q, *_ in batch], [c for _, _, c, *_ in batch], truncation="only_second", max_length=MAX,
                  padding=True, return_offsets_mapping=True, return_tensors="pt")
        starts, ends = [], []
        for i, (_, _, ctx, a, b, _) in enumerate(batch):
            seq = enc.sequence_ids(i); off = enc["offset_mapping"][i].tolist()
            s = e = 0
            for t, (sid, (x, y)) in enumerate(zip(seq, off)):
                if sid != 1: continue
                if x <= a < y or (s == 0 and x >= a): s = s or t
                if x < b <= y or (x < b and y <= b): e = t
            starts.append(s); ends.append(max(e, s))
        return enc, torch.tensor(starts), torch.tensor(ends)

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__(); self.bert = AutoModel.from_pretrained(path); self.qa = torch.nn.Linear(self.bert.config.hidden_size, 2)
        def forward(self, enc):
            h = self.bert(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], token_type_ids=enc.get("token_type_ids")).last_hidden_state
            lo = self.qa(h); return lo[..., 0], lo[..., 1]

    def predict(model, batch):
        enc, _, _ = encode(batch)
        with torch.no_grad():
            s, e = model({k: v for k, v in enc.items() if k != "offset_mapping"})
        out = []
        for i, (_, _, ctx, *_rest) in enumerate(batch):
            seq = enc.sequence_ids(i); off = enc["offset_mapping"][i].tolist()
            ctx_tokens = [t for t, sid in enumerate(seq) if sid == 1]
            ss, ee = s[i].numpy(), e[i].numpy()
            best, span = -1e9, (0, 0)
            for a in ctx_tokens:
                for b in ctx_tokens:
                    if b < a or b - a > 30: continue
                    if ss[a] + ee[b] > best: best, span = ss[a] + ee[b], (a, b)
            out.append(ctx[off[span[0]][0]:off[span[1]][1]])
        return out

    epochs = int(argv[1]) if len(argv) > 1 else 3
    scores, base = [], []
    started = time.time()
    for k in range(folds):
        train = [x for x in items if fold_of[x[0]] != k]; test = [x for x in items if fold_of[x[0]] == k]
        model = Head(); opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
        model.train()
        for ep in range(epochs):
            random.shuffle(train)
            for i in range(0, len(train), 16):
                batch = train[i:i+16]
                enc, st, en = encode(batch)
                s, e = model({kk: v for kk, v in enc.items() if kk != "offset_mapping"})
                loss = (torch.nn.functional.cross_entropy(s, st) + torch.nn.functional.cross_entropy(e, en)) / 2
                opt.zero_grad(); loss.backward(); opt.step()
        model.eval()
        preds = []
        for i in range(0, len(test), 32): preds += predict(model, test[i:i+32])
        f = [token_f1(p, x[5]) for p, x in zip(preds, test)]
        whole = [token_f1(x[2], x[5]) for x in test]
        scores += f; base += whole
        print(f"fold {k}: {len(test)} questions, span head F1 {np.mean(f):.3f}, whole evidence {np.mean(whole):.3f}, {time.time()-started:.0f} s", flush=True)
    print(f"ALL: span head F1 {np.mean(scores):.3f}, whole evidence {np.mean(base):.3f} over {len(scores)} questions")


def reader_main():

    import numpy as np
    from pathlib import Path
    import msgspec
    from rag.config import load_settings
    from rag.eval.fit import load_sets, load_gold
    from rag.engine.service import QAService
    def shipped(name):
        s = load_settings()
        g = [g for g in load_sets(Path("eval/sets.toml")) if g.name == name][0]
        paths = msgspec.structs.replace(s.paths, seeds=g.seeds, index=str(Path(s.paths.index) / f"eval-{g.name}"))
        return QAService.open(msgspec.structs.replace(s, paths=paths)), [it for p in g.gold for it in load_gold(Path(p))]
    import rag.answering.reader as R
    from rag.answering.question import analyse_question
    from rag.answering.features import featurise
    from rag.eval.metrics import token_f1
    from rag.eval.samples import answer_text
    scores, whole = [], []
    for name in ("article", "corpus"):
        svc, items = shipped(name)
        rd = svc.answerer
        by_doc = {}
        for s in rd.data.sentences: by_doc.setdefault(s.doc_id, []).append(s)
        for it in items:
            if not it.answerable or not it.evidence: continue
            ctx = " ".join(e.text for e in it.evidence)
            if not any(a in ctx for a in it.answers): continue
            doc_id = (it.doc.rsplit(".", 1)[0] if it.doc else next(iter(rd.data.documents)))
            sids = [s.sentence_id for e in it.evidence for s in by_doc.get(doc_id, []) if s.start < e.end and e.start < s.end]
            if not sids: continue
            qv = svc.embed_question(it.question)
            q = analyse_question(it.question, rd.lexical)
            props = rd.candidates.propose(q, {sid: 1.0 for sid in sids})
            if not props: continue
            sims = rd.similarities(sorted({p.sentence.sentence_id for p in props}), qv)
            rows = featurise(q, props, rd.text_of, rd.words, sims, rd.sentence_terms, rd.context_terms,
                             rd.document_terms)
            reading = R.Reading(q, props, rows, rd.word_tables(q, props, rows))
            lg = rd.scores(reading)
            b = int(np.argmax(lg))
            scores.append(token_f1(answer_text(rd, props[b].parts, props[b].sentence.doc_id), it.answers))
            whole.append(token_f1(ctx, it.answers))
    print(f"reader given the evidence sentences: F1 {np.mean(scores):.3f}, whole evidence {np.mean(whole):.3f}, {len(scores)} questions")

if __name__ == "__main__":
    if sys.argv[1:2] == ["reader"]:
        reader_main()
    else:
        span_main(sys.argv[2:])
