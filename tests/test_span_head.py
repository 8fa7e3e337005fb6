"""The span head's decoding, its weights' packing and its training targets, without a trained model.

The ONNX session is replaced by logits written by hand (``SpanHead.logits`` is the seam), so
these tests pin what the head does with any scores: spans stay inside one sentence, end on a
word's end, and map back to exact offsets of the document.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tokenizers import Tokenizer

from rag.answering.read_ahead import READ_AHEAD
from rag.answering.span import best_sentences
from rag.answering.span_head import MAX_PIECES, HeadSpan, SpanHead, pair_tokenizer
from rag.embedding.base import packaged_model_path
from rag.engine.service import QAService
from rag.eval.span_training import examples_for, folds_of, length_batches, locate, piece_targets

TOKENIZER = Path(packaged_model_path()) / "tokenizer.json"


class ScriptedHead(SpanHead):
    """A span head whose logits favour the word pieces of one chosen text."""

    def __init__(self, wanted: str) -> None:
        self.tokenizer = pair_tokenizer(TOKENIZER)  # as the served head reads: at most MAX_PIECES pieces
        self.wanted = wanted

    def logits(self, question: str, context: str) -> tuple[Any, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        encoding = self.tokenizer.encode(question, context)
        start, end = np.zeros(len(encoding.ids)), np.zeros(len(encoding.ids))
        at = context.find(self.wanted)
        for piece, (sequence, (a, b)) in enumerate(zip(encoding.sequence_ids, encoding.offsets, strict=True)):
            if sequence == 1 and at >= 0:
                start[piece] += 5.0 if a == at else 0.0
                end[piece] += 5.0 if b == at + len(self.wanted) else 0.0
        start[0] = end[0] = 1.0  # [CLS]: "no answer" scores 2
        return encoding, start, end


def test_the_best_span_maps_back_to_its_sentence() -> None:
    sentences = ["The tool was written in 1998.", "Its author is Ada Lovelace, in London."]
    span = ScriptedHead("Ada Lovelace").best("Who wrote it?", sentences)
    assert span is not None
    assert span.segment == 1 and sentences[1][span.start : span.end] == "Ada Lovelace"
    assert span.score == pytest.approx(10.0) and span.null == pytest.approx(2.0) and span.margin == pytest.approx(8.0)


def test_a_question_longer_than_the_head_reads_is_cut_not_the_sentence() -> None:
    # 1,200 characters: within [answering] max_question_chars, about 250 word pieces
    question = "Who wrote it, " + ", ".join(["given the earlier releases and their many authors"] * 24) + "?"
    sentences = ["The tool was written in 1998.", "Its author is Ada Lovelace, in London."]
    encoding = pair_tokenizer(TOKENIZER).encode(question, " ".join(sentences))
    assert len(encoding.ids) == MAX_PIECES and encoding.offsets[-2][1] == len(" ".join(sentences))
    span = ScriptedHead("Ada Lovelace").best(question, sentences)
    assert span is not None and sentences[span.segment][span.start : span.end] == "Ada Lovelace"


def test_a_span_never_crosses_sentences() -> None:
    # the best start is in the first sentence and the best end in the second: no span joins them
    class Straddling(ScriptedHead):
        def logits(self, question: str, context: str) -> tuple[Any, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
            encoding, start, end = super().logits(question, context)
            for piece, (a, b) in enumerate(encoding.offsets):
                if encoding.sequence_ids[piece] == 1:
                    start[piece] += 5.0 if context[a:b] == "Linux" else 0.0
                    end[piece] += 5.0 if context[a:b] == "BSD" else 0.0
            return encoding, start, end

    sentences = ["It runs on Linux", "and BSD systems."]
    span = Straddling("nothing").best("Where does it run?", sentences)
    assert span is not None
    assert span.score == pytest.approx(5.0)  # only one of the two ends: Linux..BSD would score 10
    assert sentences[span.segment][span.start : span.end] in {"Linux", "and BSD"}


def test_a_span_ends_at_the_end_of_its_word() -> None:
    # "unbelievably" is several word pieces; a span ending on an inner piece is widened
    sentences = ["It was unbelievably fast."]
    head = ScriptedHead("unbeliev")
    span = head.best("How fast?", sentences)
    assert span is not None
    assert sentences[0][span.start : span.end] == "unbelievably"


@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=3), st.data())
def test_spans_are_exact_offsets_of_their_sentence(sentences: list[str], data: st.DataObject) -> None:
    joined = " ".join(sentences)
    wanted = data.draw(st.sampled_from(joined.split() or [joined]))
    span = ScriptedHead(wanted).best("What?", sentences)
    if span is None:
        return
    assert isinstance(span, HeadSpan)
    assert 0 <= span.start <= span.end <= len(sentences[span.segment])


def test_weights_round_trip_through_int8_rows(tmp_path: Path) -> None:
    from rag.answering.span_export import build, load, save_weights, trained_names

    module = build(Path(packaged_model_path()), 1)
    names = trained_names(module)
    assert names and not any(name.startswith("encoder.embeddings.") for name in names) and "qa.weight" in names
    save_weights(module, tmp_path / "head.npz")
    loaded = dict(load(tmp_path / "head.npz", Path(packaged_model_path())).named_parameters())
    for name, parameter in module.named_parameters():
        original, found = parameter.detach().numpy(), loaded[name].detach().numpy()
        if original.ndim == 2:  # int8 rows: off by at most half a step of the row's scale
            step = np.abs(original).max(axis=1, keepdims=True) / 127.0
            assert (np.abs(found - original) <= step / 2 + 1e-7).all(), name
        else:
            np.testing.assert_array_equal(found, original)


def test_training_targets_are_the_answers_word_pieces() -> None:
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    context = "Support ends in June 2028 for all users."
    span = locate(context, ["June 2028", "in June 2028"])
    assert span is not None and context[span[0] : span[1]] == "June 2028"  # the shortest answer that occurs
    encoding = tokenizer.encode("When does support end?", context)
    first, last = piece_targets(encoding, span)
    assert context[encoding.offsets[first][0] : encoding.offsets[last][1]] == "June 2028"
    assert piece_targets(encoding, None) == (0, 0)


def test_examples_mark_no_answer_when_the_sentences_hold_none() -> None:
    read = ["Nothing relevant here.", "Nor here."]
    examples = examples_for("doc", "When?", ["in 1998"], True, read, ["It began in 1998."])
    assert [(e.context, e.answer) for e in examples] == [
        (read[0], None),
        (read[1], None),
        ("It began in 1998.", (9, 16)),
    ]
    assert [e.answer for e in examples_for("doc", "Why?", [], False, read, [])] == [None, None]
    assert examples_for("doc", "Why?", [], False, [], []) == []


def test_folds_hold_out_whole_documents() -> None:
    fold_of = folds_of([f"doc-{i}" for i in range(12)] * 2, 5)
    assert sorted(fold_of) == sorted({f"doc-{i}" for i in range(12)})
    assert sorted(set(fold_of.values())) == [0, 1, 2, 3, 4]
    assert folds_of(list(fold_of), 5) == fold_of  # seeded: the same folds every run


@given(st.lists(st.integers(1, 200), max_size=300), st.integers(1, 20), st.integers(0, 6), st.integers(0, 9))
def test_length_batches_deal_every_example_once(lengths: list[int], size: int, pool: int, seed: int) -> None:
    order = list(range(len(lengths)))
    random.Random(seed).shuffle(order)
    batches = length_batches(order, lengths, size, pool, random.Random(seed))
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert all(0 < len(batch) <= size for batch in batches)
    if pool == 0:  # random batches: the shuffled order cut as it is
        assert [i for batch in batches for i in batch] == order


def test_length_batches_pad_less_than_random_ones() -> None:
    draw = random.Random(0)
    lengths = [draw.choice([12, 20, 30, 45, 60, 190]) for _ in range(1600)]
    order = list(range(len(lengths)))
    draw.shuffle(order)

    def padded(batches: list[list[int]]) -> int:  # what a batch costs: all its rows padded to its longest
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    grouped = length_batches(order, lengths, 16, 50, random.Random(1))
    assert padded(grouped) < 0.6 * padded(length_batches(order, lengths, 16, 0, random.Random(1)))
    assert grouped == length_batches(order, lengths, 16, 50, random.Random(1))  # seeded
    assert len({tuple(sorted(lengths[i] for i in b)) for b in grouped}) > 1  # the batches still differ


def test_the_heads_vote_picks_the_candidate_whose_boundaries_it_marks(service: QAService) -> None:
    question = "Who is the U.S. special envoy?"
    reader = service.answerer
    vector, passages, reading = reading_of(service, question)
    logits = reader.scores(reading)
    (best,) = best_sentences(reading.proposals, logits, 1)
    sentence = best.sentence
    # a one-part candidate of that sentence, other than the reader's choice, at its text's first occurrence
    others = [p for p, _ in sorted(zip(reading.proposals, logits, strict=True), key=lambda pair: pair[1])
              if p.sentence == sentence and len(p.parts) == 1 and p.parts != best.parts]  # fmt: skip
    wanted = next(p for p in others if sentence.text.find(text_of(reader, p)) == p.start - sentence.start)
    reader.span_head, reader.head_sentences = ScriptedHead(text_of(reader, wanted)), 1
    reader.settings = msgspec.structs.replace(reader.settings, abstain=False, span_head_vote=0.0)
    assert reader.answer(question, vector, passages).answer == reader.cite(best, 0.5)[0]  # no vote: the reader's
    reader.settings = msgspec.structs.replace(reader.settings, span_head_vote=100.0)
    headed = reader.answer(question, vector, passages, explain=True)
    assert headed.answer == text_of(reader, wanted)
    first = headed.explain[0]  # why: the reader's score and the head's vote for the candidate's boundaries
    assert (first.text, first.features["head_vote"]) == (text_of(reader, wanted), 8.0)
    for citation in headed.citations:
        text = service.data.documents[citation.doc_id].text
        assert text[citation.start : citation.end] == citation.quote


def text_of(reader: Any, proposal: Any) -> str:
    ((start, end),) = proposal.parts
    return str(reader.text_of[proposal.sentence.doc_id][start:end])


def test_the_reader_keeps_its_own_span_when_the_head_finds_no_answer(service: QAService) -> None:
    # refusals off: here the head's "no answer" must leave the span alone (tests/test_head_abstention.py
    # has it refuse)
    service.answerer.settings = msgspec.structs.replace(service.answerer.settings, abstain=False)
    question = "Who is the U.S. special envoy?"
    vector = service.embed_question(question)
    passages = service.retriever.search(question, vector, 5)
    plain = service.answerer.answer(question, vector, passages)
    service.answerer.span_head = ScriptedHead("no such words here")  # every span scores below [CLS]
    service.answerer.head_sentences = 1
    again = service.answerer.answer(question, vector, passages)
    assert again.answer == plain.answer and again.signals["head_margin"] < 0


def reading_of(service: QAService, question: str) -> tuple[Any, list[Any], Any]:
    vector = service.embed_question(question)
    passages = service.retriever.search(question, vector, 5)
    return vector, passages, service.answerer.read(question, vector, passages)


@pytest.mark.parametrize("question", ["Who is the U.S. special envoy?", "Why did the talks stall?"])
def test_the_heads_margin_can_move_the_answer_to_another_sentence(service: QAService, question: str) -> None:
    reader = service.answerer
    reader.settings = msgspec.structs.replace(reader.settings, abstain=False)
    vector, passages, reading = reading_of(service, question)
    first, second = best_sentences(reading.proposals, reader.scores(reading), 2)
    wanted = next(w.strip(",.;:()") for w in sorted(second.sentence.text.split(), key=len, reverse=True)
                  if w.strip(",.;:()") not in first.sentence.text)  # fmt: skip
    reader.span_head, reader.head_sentences = ScriptedHead(wanted), 2
    reader.settings = msgspec.structs.replace(reader.settings, span_head_weight=0.0)  # the reader's sentence stays
    stays = reader.answer(question, vector, passages, explain=True)
    assert stays.citations[0].start >= first.sentence.start and stays.citations[0].end <= first.sentence.end
    reader.settings = msgspec.structs.replace(reader.settings, span_head_weight=100.0)  # the head's margin decides
    moved = reader.answer(question, vector, passages, explain=True)
    (citation,) = moved.citations
    assert second.sentence.start <= citation.start and citation.end <= second.sentence.end
    text = service.data.documents[citation.doc_id].text
    assert text[citation.start : citation.end] == citation.quote
    # one of the reader's candidates of that sentence
    assert moved.answer in {reader.cite(p, 0.5)[0] for p in reading.proposals if p.sentence == second.sentence}


class RecordingHead(ScriptedHead):
    """A scripted head that records each context it reads and the thread it reads it on."""

    def __init__(self, wanted: str) -> None:
        super().__init__(wanted)
        self.calls: list[tuple[str, str]] = []

    def logits(self, question: str, context: str) -> tuple[Any, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        self.calls.append((context, threading.current_thread().name))
        return super().logits(question, context)


@pytest.mark.parametrize(("weight", "reads"), [(0.0, 1), (100.0, 3)])
def test_a_sentence_that_cannot_win_is_not_read(service: QAService, weight: float, reads: int) -> None:
    reader = service.answerer
    reader.settings = msgspec.structs.replace(reader.settings, abstain=False, span_head_weight=weight,
                                              span_head_read_ahead=False)  # fmt: skip
    question = "Who is the U.S. special envoy?"
    vector, passages, reading = reading_of(service, question)
    best = best_sentences(reading.proposals, reader.scores(reading), 3)
    head = RecordingHead("no such words here")
    reader.span_head, reader.head_sentences = head, 3
    reader.answer(question, vector, passages)
    # with weight 0 the head's margin cannot move the choice, so only the best sentence is read
    assert [context for context, _ in head.calls] == [p.sentence.text for p in best][:reads]


def wait_for_reads_to_finish() -> None:
    deadline = time.monotonic() + 30
    while READ_AHEAD.running and time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.mark.parametrize("weight", [0.0, 100.0])
def test_reading_ahead_changes_no_answer_and_reads_at_most_the_second_sentence_more(
    service: QAService, weight: float
) -> None:
    reader = service.answerer
    question = "Who is the U.S. special envoy?"
    vector, passages, reading = reading_of(service, question)
    best = [p.sentence.text for p in best_sentences(reading.proposals, reader.scores(reading), 3)]
    head = RecordingHead("Witkoff")
    reader.span_head, reader.head_sentences = head, 3
    answers, reads = [], []
    for ahead in (False, True):
        reader.settings = msgspec.structs.replace(reader.settings, abstain=False, span_head_weight=weight,
                                                  span_head_read_ahead=ahead)  # fmt: skip
        head.calls.clear()
        answers.append(reader.answer(question, vector, passages, explain=True))
        wait_for_reads_to_finish()  # a read started ahead and then not needed is not waited for by answer
        reads.append(list(head.calls))
    assert answers[0] == answers[1]
    alone, ahead = reads
    assert sorted(c for c, _ in ahead) == sorted({c for c, _ in alone} | {best[1]})
    assert next(t for c, t in ahead if c == best[1]).startswith("rag-read-ahead")  # read on the spare thread


def test_a_head_is_fine_tuned_once_per_set_of_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.eval import span_training

    made: list[Path] = []

    def fake_training(examples: Any, path: Path, recipe: Any, log: Any) -> Path:
        made.append(path)
        path.write_bytes(b"weights")
        return path

    monkeypatch.setattr(span_training, "train_and_save", fake_training)
    examples = examples_for("doc", "When?", ["in 1998"], True, ["It began in 1998."], [])
    first = span_training.trained(examples, tmp_path, "all", log=lambda _: None)
    again = span_training.trained(list(examples), tmp_path, "all", log=lambda _: None)
    other = span_training.trained(examples[:0], tmp_path, "all", log=lambda _: None)
    assert first == again and other != first and len(made) == 2  # trained for two sets of examples, not three
    assert first.read_bytes() == other.read_bytes() == b"weights"
    assert sorted(tmp_path.glob("all-*")) == sorted([first, other])  # written aside, renamed into place


def test_fine_tuning_starts_from_the_pretrained_weights(tmp_path: Path) -> None:
    import torch

    from rag.answering.span_export import build, pack, save_weights
    from rag.eval.span_training import TrainingRecipe, train, train_and_save

    start = build(Path(packaged_model_path()), 1)
    with torch.no_grad():
        start.qa.weight.add_(0.5)  # unlike MiniLM's freshly initialised layer, and not an int8 step
    save_weights(start, tmp_path / "pretrained.npz", quantise=False)
    examples = examples_for("doc", "When?", ["in 1998"], True, ["It began in 1998."], [])
    still = TrainingRecipe(layers=1, epochs=1, learning_rate=0.0, start=tmp_path / "pretrained.npz")
    unchanged = pack(train(examples, still, log=lambda _: None), quantise=False)
    for name, value in pack(start, quantise=False).items():
        np.testing.assert_array_equal(unchanged[name], value, err_msg=name)  # floats kept, nothing rounded
    deeper = TrainingRecipe(epochs=1, learning_rate=0.0, start=tmp_path / "pretrained.npz")  # recipe says 6
    saved = train_and_save(examples, tmp_path / "fine-tuned.npz", deeper, log=lambda _: None)
    with np.load(saved) as stored:
        assert int(stored["layers"]) == 1  # the start's depth, not the recipe's


def test_pretraining_reads_the_synthetic_questions_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    from rag.eval import span_training

    rows = [{"question": "When did it begin?", "context": "It began in 1998.", "answer": [9, 16]},
            {"question": "Who wrote it?", "context": "It began in 1998.", "answer": None}]  # fmt: skip
    synthetic = tmp_path / "cloze.json.gz"
    synthetic.write_bytes(gzip.compress(msgspec.json.encode(rows)))
    seen: list[tuple[list[span_training.SpanExample], span_training.TrainingRecipe]] = []

    def fake_training(examples: Any, path: Path, recipe: Any, log: Any) -> Path:
        seen.append((list(examples), recipe))
        path.write_bytes(b"weights")
        return path

    monkeypatch.setattr(span_training, "train_and_save", fake_training)
    first = span_training.pretrained(synthetic, tmp_path / "heads", log=lambda _: None)
    assert span_training.pretrained(synthetic, tmp_path / "heads", log=lambda _: None) == first
    (examples, recipe), = seen
    assert [(e.context[e.answer[0] : e.answer[1]] if e.answer else None) for e in examples] == ["in 1998", None]
    assert recipe == span_training.PRETRAINING and not recipe.quantise and recipe.start is None


def _tsv_column(table: Path, name: str) -> set[str]:
    import csv

    with open(table, encoding="utf-8") as rows:
        return {row[name] for row in csv.DictReader(rows, delimiter="\t")}


def _gold_sources() -> set[str]:
    """Every page a corpus or unseen gold document was made from."""
    root = Path(__file__).resolve().parents[1] / "eval"
    return {page for folder in ("corpus", "unseen") for page in _tsv_column(root / folder / "SOURCES.tsv", "source")}


def _committed(name: str) -> Any:
    """The committed synthetic questions ``eval/pretraining/<name>`` (gzipped JSON)."""
    import gzip

    path = Path(__file__).resolve().parents[1] / "eval" / "pretraining" / name
    return msgspec.json.decode(gzip.decompress(path.read_bytes()))


def test_the_committed_cloze_questions_leave_every_gold_document_out() -> None:
    gold_sources = _gold_sources()
    pages = _tsv_column(Path(__file__).resolve().parents[1] / "eval" / "pretraining" / "SOURCES.tsv", "page")
    assert len(gold_sources) > 60 and len(pages) > 100 and not pages & gold_sources
    questions = _committed("cloze.json.gz")
    assert len(questions) > 10_000
    for row in questions:
        if row["answer"] is not None:
            start, end = row["answer"]
            assert 0 <= start < end <= len(row["context"]) and row["context"][start:end].strip()


def _faq_module() -> Any:
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "eval" / "pretraining" / "faq.py"
    spec = importlib.util.spec_from_file_location("faq_pairs", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_faq_pairs_answer_each_question_with_its_own_first_sentence_and_refuse_a_distant_one() -> None:
    faq = _faq_module()
    page = "\n\n".join(
        f"How do I configure thing {n}?\n{'=' * 26}\n\nYes.\n\nYou set the thing {n} option in the main config file."
        for n in range(4)
    )
    examples = faq.page_examples(page)
    answered = [e for e in examples if e["answer"] is not None]
    refused = [e for e in examples if e["answer"] is None]
    assert [e["question"] for e in answered] == [f"How do I configure thing {n}?" for n in range(4)]
    for n, e in enumerate(answered):  # "Yes." is too short to answer; the sentence after it does
        start, end = e["answer"]
        assert e["context"][start:end] == f"You set the thing {n} option in the main config file"
    for e in refused:  # the hard negative is another answer, never the question's own or a neighbour's
        own = int(e["question"].split()[-1].rstrip("?"))
        other = int(e["context"].split()[4])
        assert abs(own - other) > 1


def test_faq_sources_become_headed_questions() -> None:
    faq = _faq_module()
    pod = "=head2 How do I reverse a string?\n\nUse C<reverse()> in L<perlfunc/reverse>, E<lt>sigh E<gt>.\n"
    assert faq.plain("## How do I reverse a string?") == "How do I reverse a string?"
    text = faq.pod_markdown(pod)
    assert "## How do I reverse a string?" in text and "Use reverse() in reverse, <sigh >." in text
    git = "[[user-name]]\nWhat should I put in `user.name`?::\n\tYour name.\n+\nMore words here.\n"
    assert faq.sections(faq.gitfaq_markdown(git))[0][0] == "What should I put in user.name?"
    assert faq.plain(":func:`sorted <sorted>` and *this*?") == "sorted and this?"


def test_the_committed_faq_pairs_leave_every_gold_document_out() -> None:
    pages = _tsv_column(Path(__file__).resolve().parents[1] / "eval" / "pretraining" / "FAQ_SOURCES.tsv", "page")
    assert len(pages) > 20 and not pages & _gold_sources()
    pairs = _committed("faq.json.gz")
    assert len(pairs) > 800 and sum(p["answer"] is None for p in pairs) > 400
    for row in pairs:
        assert row["question"].endswith("?")
        if row["answer"] is not None:
            start, end = row["answer"]
            assert 0 <= start < end <= len(row["context"]) and row["context"][start:end].strip()


def test_every_fold_head_also_learns_from_the_extra_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.eval import span_training

    gold = [span_training.SpanExample(f"doc-{n}", "When?", "It began in 1998.", (9, 16)) for n in range(5)]
    extra = [span_training.SpanExample("synthetic", "Is it stable?", "It is stable.", (0, 12))]
    seen: list[list[str]] = []

    def fake_trained(examples: Any, folder: Path, name: str, recipe: Any, log: Any) -> Path:
        seen.append([e.group for e in examples])
        return folder / f"{name}.npz"

    monkeypatch.setattr(span_training, "trained", fake_trained)
    monkeypatch.setattr(span_training, "ensure_span_head", lambda folder, weights: weights)
    heads = span_training.held_out_heads(gold, tmp_path, folds=5, extra=extra, log=lambda _: None)
    assert len(seen) == 5 and all(groups.count("synthetic") == 1 and len(groups) == 5 for groups in seen)
    assert set(heads) == {f"doc-{n}" for n in range(5)}  # the extra examples are no document's
