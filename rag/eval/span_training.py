"""Fine-tuning the span head (``rag.answering.span_head``) on the gold sets, with torch on the CPU.

Each gold question gives an example per sentence read and one more:

- the question with each of the sentences the reader ranks best, each on its own as the head reads
  them when serving, its target the first occurrence of a gold answer in it, or ``[CLS]`` (no
  answer here) when it holds none or the question is unanswerable: the "no answer" score this
  teaches is what lets the head weigh in on the choice of the sentence;
- the question with its gold evidence, when a gold answer occurs in it: more right answers to
  learn from than the reader's sentences alone give.

The loss is SQuAD's: cross-entropy of the start and of the end piece. The word-piece embeddings
stay frozen (the shipped weights then leave them out); everything above them is trained.

Fine-tuning starts from a head pretrained on synthetic cloze questions (what ``rag fit`` does by
default, eval/pretraining/: thousands of questions about documentation prose in general, before the
few thousand gold ones; eval/EXPERIMENTS.md, 2026-12-01) or from MiniLM itself (``--no-pretrain``).
"""

from __future__ import annotations

import gzip
import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from rag.answering.model import ReaderModel
from rag.answering.reader import Reader
from rag.answering.span import best_sentences
from rag.answering.span_export import build, load, save_weights
from rag.answering.span_head import SpanHead, pair_tokenizer
from rag.answering.span_model import ensure_span_head
from rag.embedding.base import packaged_model_path
from rag.eval.samples import Sample

HELD_OUT_FOLDS = 5  # heads fitted for held-out figures: one per fold of documents, not one per document (minutes each)


@dataclass(frozen=True)
class SpanExample:
    group: str  # the document it is about: examples of one document never train its own fold's head
    question: str
    context: str
    answer: tuple[int, int] | None  # character span in ``context``; None = no answer


@dataclass(frozen=True)
class TrainingRecipe:
    layers: int = 6  # all of MiniLM's: 3 layers over three sentences scored F1 .307 against 6 over one .379
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    seed: int = 0
    start: Path | None = None  # weights to fine-tune from (a pretrained head, whose depth wins); None: MiniLM's
    # Batches of similar lengths: randomly drawn ones pad to their longest pair and do twice the
    # work (single sentences run from 10 to 190 word pieces); 0 draws them at random.
    length_pool: int = 50
    quantise: bool = True  # int8 rows in the saved weights; a start for further training keeps floats


# One epoch: the synthetic questions teach the task's shape, the gold ones its substance.
PRETRAINING = TrainingRecipe(epochs=1, quantise=False)


def locate(context: str, answers: Sequence[str]) -> tuple[int, int] | None:
    """The first occurrence in ``context`` of the shortest gold answer that occurs in it."""
    for answer in sorted((a for a in answers if a), key=len):
        at = context.find(answer)
        if at >= 0:
            return at, at + len(answer)
    return None


def examples_for(group: str, question: str, answers: Sequence[str], answerable: bool, read: Sequence[str],
                 evidence: Sequence[str]) -> list[SpanExample]:  # fmt: skip
    """The question's examples: over each sentence read, and over its evidence when that holds an answer."""
    found = [SpanExample(group, question, s, locate(s, answers) if answerable else None) for s in read]
    if answerable and evidence:
        joined = " ".join(evidence)
        span = locate(joined, answers)
        if span is not None:
            found.append(SpanExample(group, question, joined, span))
    return found


def piece_targets(encoding: Any, span: tuple[int, int] | None) -> tuple[int, int]:
    """The start and end word pieces of ``span`` in the pair's second text; (0, 0) is [CLS]."""
    if span is None:
        return 0, 0
    first, last = 0, 0
    for piece, (sequence, (start, end)) in enumerate(zip(encoding.sequence_ids, encoding.offsets, strict=True)):
        if sequence != 1:
            continue
        if first == 0 and end > span[0]:
            first = piece
        if start < span[1]:
            last = piece
    return (first, last) if first and last >= first else (0, 0)


def pair_lengths(tokenizer: Any, examples: Sequence[SpanExample]) -> list[int]:
    """Each example's length in word pieces as the head reads it (question and context, truncated)."""
    return [len(encoding.ids) for encoding in tokenizer.encode_batch([(e.question, e.context) for e in examples])]


def length_batches(order: Sequence[int], lengths: Sequence[int], batch_size: int, pool: int,
                   shuffle: random.Random) -> list[list[int]]:  # fmt: skip
    """An epoch's batches of the example indices in ``order`` (already shuffled): sorted by length
    within pools of ``pool`` batches and cut, the batches shuffled again (Hugging Face's
    ``group_by_length``), so each pads to a length close to its members' own while an epoch still
    mixes documents and lengths. ``pool`` 0: ``order`` cut as it is, the batches drawn at random."""
    if pool <= 0:
        return [list(order[at : at + batch_size]) for at in range(0, len(order), batch_size)]
    batches: list[list[int]] = []
    span = batch_size * pool
    for at in range(0, len(order), span):
        group = sorted(order[at : at + span], key=lambda i: lengths[i])
        batches += [group[i : i + batch_size] for i in range(0, len(group), batch_size)]
    shuffle.shuffle(batches)
    return batches


def train(examples: Sequence[SpanExample], recipe: TrainingRecipe = TrainingRecipe(),
          log: Callable[[str], object] = print) -> Any:  # fmt: skip
    """The span head fine-tuned on ``examples`` (a torch module in eval mode)."""
    import torch

    torch.manual_seed(recipe.seed)
    shuffle = random.Random(recipe.seed)
    model_dir = Path(packaged_model_path())
    tokenizer = pair_tokenizer(model_dir / "tokenizer.json")
    lengths = pair_lengths(tokenizer, examples)
    tokenizer.enable_padding()
    module = load(recipe.start, model_dir) if recipe.start else build(model_dir, recipe.layers)
    for parameter in module.encoder.embeddings.parameters():
        parameter.requires_grad = False
    trained = [p for p in module.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trained, lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    order = list(range(len(examples)))
    module.train()
    for epoch in range(recipe.epochs):
        shuffle.shuffle(order)
        total = 0.0
        for indices in length_batches(order, lengths, recipe.batch_size, recipe.length_pool, shuffle):
            batch = [examples[i] for i in indices]
            encodings = tokenizer.encode_batch([(e.question, e.context) for e in batch])
            targets = torch.tensor([piece_targets(enc, e.answer) for enc, e in zip(encodings, batch, strict=True)])
            ids = torch.tensor([enc.ids for enc in encodings])
            mask = torch.tensor([enc.attention_mask for enc in encodings])
            start, end = module(ids, mask, torch.tensor([enc.type_ids for enc in encodings]))
            start, end = start.masked_fill(mask == 0, -1e4), end.masked_fill(mask == 0, -1e4)  # never padding
            loss = (torch.nn.functional.cross_entropy(start, targets[:, 0])
                    + torch.nn.functional.cross_entropy(end, targets[:, 1])) / 2  # fmt: skip
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        log(f"span head: epoch {epoch + 1}/{recipe.epochs}, loss {total / max(len(examples), 1):.3f}")
    return module.eval()


def train_and_save(examples: Sequence[SpanExample], path: Path, recipe: TrainingRecipe = TrainingRecipe(),
                   log: Callable[[str], object] = print) -> Path:  # fmt: skip
    save_weights(train(examples, recipe, log), path, recipe.quantise)
    return path


def span_examples(reader: Reader, samples: Sequence[Sample], model: ReaderModel,
                  sentences: int = 1) -> list[SpanExample]:  # fmt: skip
    """Every sample's examples, reading the ``sentences`` sentences ``model`` ranks best, each on its
    own. ``rag fit`` reads as many as the head reads serving (``[answering] span_head_sentences``):
    trained on the best one alone, the head never learned "no answer" from the others it is asked
    to tell apart (eval/EXPERIMENTS.md)."""
    found: list[SpanExample] = []
    for sample in samples:
        read: list[str] = []
        if sample.reading.proposals:
            best = best_sentences(sample.reading.proposals, reader.scores(sample.reading, model), sentences)
            read = [p.sentence.text for p in best]
        item = sample.item
        found += examples_for(sample.group, item.question, item.answers, item.answerable, read,
                              [e.text for e in item.evidence])  # fmt: skip
    return found


def folds_of(groups: Sequence[str], folds: int, seed: int = 0) -> dict[str, int]:
    """Documents dealt into ``folds`` folds in a seeded random order."""
    order = sorted(set(groups))
    random.Random(seed).shuffle(order)
    return {group: i % folds for i, group in enumerate(order)}


def examples_digest(examples: Sequence[SpanExample], recipe: TrainingRecipe) -> str:
    """A short digest of the training examples, in order, and the recipe: what a trained head depends on."""
    return hashlib.sha256(repr((recipe, list(examples))).encode()).hexdigest()[:12]


def trained(examples: Sequence[SpanExample], folder: Path, name: str, recipe: TrainingRecipe = TrainingRecipe(),
            log: Callable[[str], object] = print) -> Path:  # fmt: skip
    """The weights of a head fine-tuned on ``examples``, in ``folder``. Named by what it learns
    from, so a rerun of ``rag fit`` on the same examples reuses them (minutes per head)."""
    weights = folder / f"{name}-{examples_digest(examples, recipe)}.npz"
    if weights.exists():
        log(f"span head {name}: reusing {weights.name}")
    else:
        log(f"span head {name}: fine-tuning on {len(examples)} examples")
        folder.mkdir(parents=True, exist_ok=True)
        # Renamed into place once written: a file under its final name is always a whole one,
        # so a fit killed while saving is not mistaken for a trained head by the next.
        partial = train_and_save(examples, weights.with_suffix(".partial.npz"), recipe, log)
        partial.replace(weights)
    return weights


def synthetic_examples(path: Path) -> list[SpanExample]:
    """The questions of ``path`` (gzipped JSON: question, context, answer as [start, end] or null):
    the cloze questions, or the FAQ pairs (eval/pretraining/)."""
    rows = msgspec.json.decode(gzip.decompress(path.read_bytes()))
    return [SpanExample("synthetic", row["question"], row["context"], tuple(row["answer"]) if row["answer"] else None)
            for row in rows]  # fmt: skip


def pretrained(synthetic: Path, folder: Path, log: Callable[[str], object] = print) -> Path:
    """A head trained on the synthetic questions of ``synthetic``: the start of every fine-tuning
    (``TrainingRecipe.start``). Kept in ``folder`` under a name made from them (about 26 minutes
    for 16 k questions on two cores)."""
    return trained(synthetic_examples(synthetic), folder, "pretrained", PRETRAINING, log)


def held_out_heads(examples: Sequence[SpanExample], folder: Path, folds: int = HELD_OUT_FOLDS,
                   recipe: TrainingRecipe = TrainingRecipe(), log: Callable[[str], object] = print,
                   extra: Sequence[SpanExample] = ()) -> dict[str, SpanHead]:  # fmt: skip
    """For every document, a head fine-tuned without its fold of documents (``folds`` heads in all),
    each also on the ``extra`` examples (about no gold document)."""
    fold_of = folds_of([e.group for e in examples], folds, recipe.seed)
    heads: dict[str, SpanHead] = {}
    folder.mkdir(parents=True, exist_ok=True)
    for fold in range(folds):
        training = [e for e in examples if fold_of[e.group] != fold] + list(extra)
        head = ensure_span_head(folder, trained(training, folder, f"fold-{fold}", recipe, log))
        heads.update({group: head for group, f in fold_of.items() if f == fold})
    return heads
