"""How well the word tagger tags documents it did not see, and how much its fit moves with the seed.

    python eval/tagger_spread.py [--work /tmp/rag-tagger-spread] [--folds 3] [--held 0 2] \
        [--config 1:0.001 3:0.001 5:1.0]

Reads every gold set of ``eval/sets.toml`` once (as ``rag fit`` does; indexes under ``--work``),
splits the documents into ``--folds`` folds, and for each held-out fold and each configuration
(``networks:alpha``, see ``rag.eval.words.fit_tagger``) fits the tagger twice on the other folds,
from two disjoint sets of seeds. Prints, over the held-out fold's sentences that hold an answer,
each fit's AUROC within a sentence (averaged over sentences), how often the sentence's most
probable word is in the answer, and the mean absolute difference of the two fits' logits: a
tagger whose fit depends on its seed gives two different answers to the same word. ``1:0.001``
is the single network the reader used before 2026-12-02; the default compares it with
``rag.eval.words.NETWORKS:ALPHA``. A few minutes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import msgspec
import numpy as np
from sklearn.metrics import roc_auc_score

from rag.config import load_settings
from rag.eval.fit import load_sets, open_and_collect
from rag.eval.words import ALPHA, NETWORKS, fit_tagger, labelled_words


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-tagger-spread"))
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--held", type=int, nargs="+", default=[0, 2], help="which folds to hold out")
    parser.add_argument("--config", nargs="+", default=["1:0.001", f"{NETWORKS}:{ALPHA}"])
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    environ = {"RAG_PATHS__INDEX": str(args.work), "RAG_ANSWERING__SPAN_HEAD_SENTENCES": "0"}
    settings = load_settings(root / "config" / "rag.toml", environ=environ)
    sets = [msgspec.structs.replace(s, seeds=str(root / s.seeds), gold=[str(root / g) for g in s.gold])
            for s in load_sets(root / "eval" / "sets.toml")]  # fmt: skip
    samples = [s for o in open_and_collect(settings, sets, log=lambda _: None) for s in o.samples]
    fold_of = {g: i % args.folds for i, g in enumerate(sorted({s.group for s in samples}))}
    for held in args.held:
        inside = [s for s in samples if fold_of[s.group] != held]
        # The tagger ranks the words of one sentence against each other (a candidate's features are
        # its words' mean and share of the sentence): measured per sentence, not over words pooled
        # across sentences, which rated a strongly penalised tagger better while answers got worse.
        sentences = [(s.reading.words[sid].rows, labels) for s in samples if fold_of[s.group] == held
                     for sid, labels in s.answer_words.items() if 0 < labels.sum() < len(labels)]  # fmt: skip
        words = len(labelled_words(inside)[1])
        print(f"fold {held}: fitted on {words:,} words, measured on {len(sentences):,} sentences")
        for config in args.config:
            networks, alpha = int(config.split(":")[0]), float(config.split(":")[1])
            logits, figures = [], []
            for seed in (0, 1):  # seeds 0..networks-1, then networks..2*networks-1: disjoint
                started = time.perf_counter()
                tagger = fit_tagger(inside, seed, networks, alpha)
                seconds = time.perf_counter() - started
                p = [np.clip(tagger.probabilities(rows), 1e-9, 1 - 1e-9) for rows, _ in sentences]
                logits.append(np.log(np.concatenate(p) / (1 - np.concatenate(p))))
                auroc = np.mean([roc_auc_score(labels, q) for (_, labels), q in zip(sentences, p, strict=True)])
                top = np.mean([labels[int(np.argmax(q))] for (_, labels), q in zip(sentences, p, strict=True)])
                figures.append(f"AUROC {auroc:.4f}, top word in the answer {top:.4f}, {seconds:.1f} s")
            difference = float(np.abs(logits[0] - logits[1]).mean())
            print(f"  {networks} x alpha {alpha}: {' | '.join(figures)} | mean |logit difference| {difference:.3f}",
                  flush=True)  # fmt: skip

if __name__ == "__main__":
    main()
