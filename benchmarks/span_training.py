"""Fine-tuning the span head: batches drawn at random, or grouped by length.

    python benchmarks/span_training.py [--examples 960] [--rounds 2]

Trains a head for one epoch (``rag.eval.span_training.train``, the recipe ``rag fit`` uses) on
the first ``examples`` of the committed cloze questions (eval/pretraining/cloze.json.gz), once
with ``length_pool`` 0 (random batches, the recipe before) and once with the default pool, in
alternation for ``rounds`` rounds so that a load drifting on a shared machine touches both.
Reported: seconds per epoch, word pieces fed to the model (padding included) and the epoch's loss.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=960)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.chdir(common.ROOT)

    from rag.answering.span_head import pair_tokenizer
    from rag.embedding.base import packaged_model_path
    from rag.eval.span_training import TrainingRecipe, length_batches, pair_lengths, synthetic_examples, train

    examples = synthetic_examples(common.ROOT / "eval" / "pretraining" / "cloze.json.gz")[: args.examples]
    tokenizer = pair_tokenizer(Path(packaged_model_path()) / "tokenizer.json")
    lengths = pair_lengths(tokenizer, examples)
    default = TrainingRecipe(epochs=1, quantise=False)
    recipes = {"random batches (length_pool 0)": dataclasses.replace(default, length_pool=0),
               f"grouped by length (length_pool {default.length_pool})": default}  # fmt: skip

    common.print_header("Span head fine-tuning: random batches or grouped by length")
    seconds: dict[str, list[float]] = {name: [] for name in recipes}
    losses: dict[str, str] = {}
    for _ in range(args.rounds):
        for name, recipe in recipes.items():
            logged: list[str] = []
            started = time.perf_counter()
            train(examples, recipe, log=logged.append)
            seconds[name].append(time.perf_counter() - started)
            losses[name] = logged[-1].rsplit(" ", 1)[-1]
    rows = []
    for name, recipe in recipes.items():
        order = list(range(len(examples)))
        random.Random(recipe.seed).shuffle(order)
        batches = length_batches(order, lengths, recipe.batch_size, recipe.length_pool, random.Random(recipe.seed))
        padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
        rows.append([name, len(examples), f"{padded:,}", f"{sum(lengths):,}", f"{min(seconds[name]):.1f}",
                     f"{max(seconds[name]):.1f}", losses[name]])  # fmt: skip
    print(common.table(["batches", "examples", "word pieces fed (padded)", "word pieces (unpadded)",
                        "epoch s (best)", "epoch s (worst)", "loss"], rows))  # fmt: skip
    best = {name: min(s) for name, s in seconds.items()}
    before, after = best.values()
    print(
        f"\nOne epoch, best of {args.rounds}: **{before / after:.2f}x faster grouped by length**; "
        f"load average at the end {common.load_average()}, busy other processes: "
        f"{', '.join(common.busy_other_processes()) or 'none'}."
    )
    common.save_result("span_training", {"seconds": seconds, "examples": len(examples)})


if __name__ == "__main__":
    main()
