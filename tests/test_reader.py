"""The reader's stages, each on its own: question analysis, candidates, features, model, trace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.answering.abstention import ABSTENTION_FEATURES
from rag.answering.candidates import Proposal, focus, table_cells
from rag.answering.features import COLUMN, FEATURES
from rag.answering.model import PACKAGED, LinearModel, load_model
from rag.answering.question import analyse_question, answer_kind
from rag.answering.reader import Reader, Reading
from rag.answering.span import choose
from rag.config import Settings
from rag.engine.service import QAService
from rag.index.lexical import LexicalIndex
from rag.records import Sentence
from rag.text.markup import literal_spans
from tests.conftest import FakeEmbedder

CORPUS = LexicalIndex(["Moscow continues to insist that Ukraine must cede territory.", "Talks go on in Europe."])


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many architectures does Debian support?", "count"),
        ("How long does the key stay valid?", "duration"),
        ("When was version 3.1 released?", "time"),
        ("In what year did the project start?", "time"),
        ("Who maintains the archive?", "person"),
        ("Where is the configuration file kept?", "place"),
        ("Why does the merge need a revert?", "reason"),
        ("How do I sort a list in reverse order?", "manner"),
        ("What is a docstring?", "definition"),
        ("Which command removes a package?", "thing"),
        ("Is SQLite threadsafe?", "yes_no"),
        ("Describe the archive areas.", "other"),
        # the clause that asks, after a leading clause
        ("In Werkzeug, which class holds an upload?", "thing"),
        ("When I fork workers, what must I not touch first?", "thing"),
        ("By default, how often is a checkpoint written?", "duration"),
        ("If I restore into a full folder, does borg clean it out?", "yes_no"),
        ("I run Ubuntu and hit a kernel bug; should I file it with Debian?", "yes_no"),
        ("What is the string, which ends up in __doc__, called?", "thing"),
        # a degree word or a bound before the wh-word, and a count of some kind of number
        ("In HAProxy, up to how many sources can be learned?", "count"),
        ("Roughly how long does the reorganisation take?", "duration"),
        ("At most how many days before the release is the list told?", "count"),
        ("Up to which version was it maintained there?", "time"),
        ("At roughly what size, by default, is the log converted?", "thing"),
        ("What is the maximum number of columns in a table?", "count"),
    ],
)
def test_the_asking_wh_phrase_gives_the_answer_kind(question: str, kind: str) -> None:
    assert answer_kind(question)[0] == kind


def test_answer_kinds_name_fitting_entity_types() -> None:
    assert "DATE" in answer_kind("When was it founded?")[1]
    assert "CARDINAL" in answer_kind("How many ports are there?")[1]
    assert answer_kind("Why is it slow?")[1] == frozenset()


@pytest.mark.parametrize(
    ("question", "wants"),
    [("Which architectures are supported?", True), ("What are the three storage classes?", True),
     ("What is the default priority?", False), ("Which command removes a package?", False)],
)  # fmt: skip
def test_list_questions_are_recognised(question: str, wants: bool) -> None:
    assert analyse_question(question, CORPUS).wants_list is wants


def test_a_leading_clause_does_not_hide_the_list_cue_or_the_type_noun() -> None:
    q = analyse_question("Besides the path, which headers are exposed?", CORPUS)
    assert q.wants_list and q.type_nouns == {"header"}


def test_a_word_echoes_the_question_by_its_stem_not_by_a_shared_prefix() -> None:
    q = analyse_question("What is the base class of all exceptions, and how do talks negotiate?", CORPUS)
    assert q.echoes("exceptions") and q.echoes("negotiations") and q.echoes("base")
    assert not q.echoes("baseexception") and not q.echoes("the")
    assert not analyse_question("Which option enables undo?", CORPUS).echoes("undofile")


def test_a_hyphenated_word_echoes_the_question_when_each_of_its_parts_does() -> None:
    q = analyse_question("What task types does Linux-PAM handle, and what does --dry-run print?", CORPUS)
    assert q.echoes("linux-pam") and q.echoes("dry-run") and q.echoes("pam")
    assert not q.echoes("pam-auth") and not q.echoes("e-mail")
    assert analyse_question("Can I send e-mail from it?", CORPUS).echoes("e-mail")  # "e" is no term; "mail" is


def test_question_terms_carry_idf_and_unknown_names() -> None:
    q = analyse_question("Does Ukraine talk to Brazil?", CORPUS)
    assert q.unknown_names == ["Brazil"]
    assert q.terms["brazil"] > q.terms["ukrain"]  # never seen: the highest idf


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("What does Moscow insist Ukraine must do as part of any agreement?",
         "Moscow continues to insist that Ukraine must cede territory as part of any agreement", "cede territory"),
        ("What was the framework meant to replace?",
         "Officials said the framework was meant to replace an earlier, heavily criticized proposal",
         "earlier, heavily criticized proposal"),
        ("Does Moscow insist?", "Moscow insists", "Moscow insists"),  # nothing but echo: the whole span
    ],
)  # fmt: skip
def test_focus_keeps_what_answers_and_drops_the_echo(question: str, sentence: str, expected: str) -> None:
    start, end = focus(sentence, 0, len(sentence), analyse_question(question, CORPUS))
    assert sentence[start:end] == expected


def test_the_packaged_model_matches_the_code_features() -> None:
    model = load_model(PACKAGED)
    assert model.scorer.features == list(FEATURES)
    assert model.abstention.features == list(ABSTENTION_FEATURES)
    assert 0 < model.threshold < 1


def test_a_model_with_other_features_is_refused_with_the_difference() -> None:
    model = LinearModel(["a", "b"], [0, 0], [1, 1], [1, 1], 0)
    with pytest.raises(ValueError, match="missing"):
        model.check(FEATURES, "scorer")


def test_linear_model_standardises_then_weighs() -> None:
    model = LinearModel(["x", "y"], [1.0, 0.0], [2.0, 1.0], [1.0, -1.0], 0.5)
    logits = model.logits(np.array([[3.0, 1.0]], dtype=np.float32))
    assert logits[0] == pytest.approx((3 - 1) / 2 - 1 + 0.5)


def test_every_candidate_cites_its_whole_sentence_and_quotes_exactly(service: QAService) -> None:
    reading = read(service, "What does Moscow insist Ukraine must do?")
    assert reading.proposals and reading.features.shape == (len(reading.proposals), len(FEATURES))
    kinds = {p.kind for p in reading.proposals}
    assert {"sentence", "focus"} <= kinds and kinds & {"entity", "object", "noun_phrase", "subject"}
    for p in reading.proposals:
        sentence = p.sentence
        assert all(sentence.start <= a < b <= sentence.end for a, b in p.parts) or p.kind == "list"
        assert all(0 <= reading.features[i, COLUMN["echo_share"]] <= 1 for i in range(len(reading.proposals)))


def test_explain_returns_the_top_candidates_with_their_features(service: QAService) -> None:
    question = "What does Moscow insist Ukraine must do?"
    vector = service.embed_question(question)
    extraction = service.answerer.answer(question, vector, service.retriever.search(question, vector, 5), explain=True)
    assert 1 <= len(extraction.explain) <= 5
    scores = [entry.score for entry in extraction.explain]
    assert scores == sorted(scores, reverse=True)
    top = extraction.explain[0]
    document = service.data.documents[top.doc_id].text
    assert top.features and all(name in FEATURES for name in top.features)
    assert top.text.split("; ")[0] == document[top.start : top.start + len(top.text.split("; ")[0])]


def test_what_the_reader_keeps_per_sentence_does_not_depend_on_earlier_questions(service: QAService) -> None:
    """Sentences' proposals and words are cached across questions: a question read after others
    gets the same candidates, priors and features as on a fresh reader."""
    question = "What does Moscow insist Ukraine must do?"
    for warm_up in ("Who met in Geneva?", "What would Ukraine give up?", "Why does Russia want guarantees?"):
        read(service, warm_up)
    warm = read(service, question)
    fresh_reader = Reader(service.data, service.answerer.lexical, service.answerer.settings, service.answerer.model)
    vector = service.embed_question(question)
    passages = service.retriever.search(question, vector, 5)
    fresh = fresh_reader.read(question, vector, passages)
    assert warm.proposals == fresh.proposals
    priors = fresh_reader.candidates.sentence_priors(passages, fresh_reader.data.chunks_by_id)
    assert [p.prior for p in warm.proposals] == [priors[p.sentence.sentence_id] for p in warm.proposals]
    assert np.array_equal(warm.features, fresh.features)


def test_a_colon_lead_in_tells_what_the_next_line_is_about(tmp_path: Path, settings: Settings) -> None:
    svc = seeded(tmp_path, settings, "net.md",
                 "# Kernel settings\n\nTo stop answering ICMP echo requests, enable this option:\n\n"
                 "    net/ipv4/icmp_echo_ignore_all = 1\n\nOther settings are described later.\n")  # fmt: skip
    reader, sentences = svc.answerer, svc.data.sentences
    setting = next(i for i, s in enumerate(sentences) if s.text.startswith("net/ipv4"))
    later = next(i for i, s in enumerate(sentences) if s.text.startswith("Other settings"))
    assert {"icmp", "echo"} <= reader.context_terms(setting)
    assert "echo" not in reader.context_terms(later)


def test_document_coverage_is_the_share_of_the_question_the_whole_document_uses(tmp_path: Path,
                                                                              settings: Settings) -> None:  # fmt: skip
    text = "# Werkzeug requests\n\nHeaders are read through a mapping.\n\nKeys ignore letter case.\n"
    svc = seeded(tmp_path, settings, "werkzeug.md", text)
    reader = svc.answerer
    keys = next(s for s in svc.data.sentences if s.text.startswith("Keys ignore"))
    terms = reader.document_terms(keys)  # its document's words, not only its own
    assert {"werkzeug", "header", "key"} <= terms and "moscow" not in terms
    article = next(s for s in svc.data.sentences if s.doc_id != keys.doc_id)
    rows = read(svc, "Do Werkzeug header keys ignore case?")
    column = COLUMN["document_coverage"]
    by_document = {p.sentence.doc_id: float(row[column]) for p, row in zip(rows.proposals, rows.features, strict=True)}
    assert by_document[keys.doc_id] == 1.0 and by_document.get(article.doc_id, 0.0) < 1.0


def seeded(tmp_path: Path, settings: Settings, name: str, text: str) -> QAService:
    """A service over one extra seed document (the fake embedder)."""
    (tmp_path / "seeds" / name).write_text(text, encoding="utf-8")
    return QAService.open(settings, embedder=FakeEmbedder())


def read(svc: QAService, question: str) -> Reading:
    vector = svc.embed_question(question)
    return svc.answerer.read(question, vector, svc.retriever.search(question, vector, 5))


def test_list_items_answer_a_list_question_citing_the_list(tmp_path: Path, settings: Settings) -> None:
    svc = seeded(tmp_path, settings, "guide.md",
                 "# Supported systems\n\nThe tool runs on the following systems:\n\n- Linux\n- FreeBSD\n- macOS\n\n"
                 "It was first released in 2019 by a small team.\n")  # fmt: skip
    reading = read(svc, "Which systems does the tool run on?")
    lists = [p for p in reading.proposals if p.kind == "list" and p.sentence.doc_id == "guide"]
    assert lists
    text = svc.data.documents["guide"].text
    assert [text[a:b] for a, b in lists[0].parts] == ["Linux", "FreeBSD", "macOS"]
    assert [text[a:b] for a, b in lists[0].cited] == ["- Linux\n- FreeBSD\n- macOS"]
    answer, citations = svc.answerer.cite(lists[0], 0.9)
    assert answer == "Linux; FreeBSD; macOS"
    assert [(c.quote, c.answer_start, c.answer_end) for c in citations] == [("- Linux\n- FreeBSD\n- macOS", 0, 21)]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("APT keeps a copy in the directory `/var/cache/apt/archives/`.", ["/var/cache/apt/archives/"]),
        ("The :func:`int` type gained a ``bit_length`` method.", ["int", "bit_length"]),
        ("By default it returns SQLITE_BUSY to the caller.", ["SQLITE_BUSY"]),
        ("A keyword argument *rename* and a **strict** flag.", ["rename", "strict"]),
        ('Set it to "always" or see [the FAQ](faq.html), e.g. os.path.join.',
         ["always", "the FAQ", "faq.html", "os.path.join"]),
        ("Plain prose names nothing here.", []),
    ],
)
def test_literals_are_the_marked_up_names_and_identifier_like_words(sentence: str, expected: list[str]) -> None:
    text = "Intro. " + sentence
    spans = literal_spans(text, 7, len(text))
    assert [text[a:b] for a, b in spans] == expected


def test_table_rows_give_cells_labelled_by_their_column_header(tmp_path: Path, settings: Settings) -> None:
    svc = seeded(tmp_path, settings, "options.md",
                 "# Options\n\n| Option | Default | Meaning |\n|---|---|---|\n| `--jobs` | 4 | parallel builds |\n"
                 "| `--quiet` | off | print nothing |\n")  # fmt: skip
    reading = read(svc, "What is the default of --jobs?")
    text = svc.data.documents["options"].text
    cells = {text[p.start : p.end]: p for p in reading.proposals if p.kind == "cell"}
    assert cells["4"].label == "Default" and cells["--jobs"].label == "Option"
    assert [text[a:b] for a, b in cells["4"].cited] == ["| `--jobs` | 4 | parallel builds |"]
    row = reading.proposals.index(cells["4"])
    assert reading.features[row, COLUMN["header_match"]] > 0
    assert table_cells("| a | b \\| c |  |", 0, 16) == [(2, 3), (6, 12)]


def test_span_choice_prefers_what_the_probable_candidates_agree_on() -> None:
    sentence = Sentence(0, "d", 0, 60, "x" * 60)
    spans = [(40, 44), (10, 30), (10, 34), (12, 30)]  # a lone best span, then three that overlap
    proposals = [Proposal(sentence, ((a, b),), ((0, 60),), "noun_phrase") for a, b in spans]
    logits = np.array([2.0, 1.8, 1.7, 1.6])
    assert choose(logits, proposals, consensus=1) == 0
    assert choose(logits, proposals, consensus=4) == 1
    assert choose(np.array([9.0, 1.8, 1.7, 1.6]), proposals, consensus=4) == 0  # a clear winner stays


def test_a_term_every_competing_sentence_holds_tells_none_apart() -> None:
    from rag.answering.question import Question

    terms = {"svc": 5.0, "sigwinch": 7.0, "option": 2.0}
    q = Question("Which s6-svc option sends a SIGWINCH?", "thing", frozenset(), terms, False)
    competing = [frozenset({"svc", "send"}), frozenset({"svc", "sigwinch"}), frozenset({"svc", "sigterm"})]
    q.weigh_locally(competing)
    assert set(q.local) == {"svc", "sigwinch"}  # "option": no competing sentence holds it
    assert q.local["sigwinch"] > q.local["svc"] > 0
    assert q.local_coverage(competing[1]) == 1.0 and q.local_coverage(competing[0]) < 0.25
    q.weigh_locally([])
    assert q.local_coverage(competing[1]) == 0.0
