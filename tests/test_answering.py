"""Answer extraction rules, on hand-made sentences (no model)."""

from __future__ import annotations

import pytest

from rag.answering.extract import (
    _ANAPHORIC,
    Question,
    Scored,
    expected_type,
    focus,
    is_heading,
    list_items,
    name_words,
    proper_names,
    question_names,
    title_cased,
    type_matches,
)
from rag.config import AbstentionSettings
from rag.engine.service import QAService
from rag.index.lexical import LexicalIndex
from rag.text.normalize import content_terms, stem

CORPUS = LexicalIndex(["Moscow continues to insist that Ukraine must cede territory.", "Talks go on in Europe."])


def answer_of(question: str, clause: str) -> str:
    start, end = focus(clause, 0, len(clause), Question(question, CORPUS))
    return clause[start:end]


@pytest.mark.parametrize(
    ("question", "clause", "expected"),
    [
        (
            "What does Moscow insist Ukraine must do as part of any agreement?",
            "Moscow continues to insist that Ukraine must cede territory as part of any agreement",
            "cede territory",
        ),
        (  # hyphenated words stay whole: "long-term" does not echo "terms"
            "How do Ukraine and its allies see Russia's proposed security terms?",
            "for Ukraine and its allies, they resemble attempts to enforce long-term vulnerability.",
            "resemble attempts to enforce long-term vulnerability",
        ),
        (  # a yes/no question is answered by the whole clause
            "Is a formal agreement expected soon?",
            "Yet no formal agreement is imminent",
            "Yet no formal agreement is imminent",
        ),
        (  # new information comes last: the later run wins over a longer earlier one
            "What was the reshaped framework meant to replace?",
            "Officials familiar with the ongoing talks said the reshaped framework was meant to replace "
            "an earlier, heavily criticized proposal",
            "earlier, heavily criticized proposal",
        ),
        (  # an enumeration is what the clause says, wherever it stands
            "What kinds of events can tilt the balance?",
            "Each statement from leaders, each shift on the battlefield, and each announcement can tilt "
            "the balance in one direction or another",
            "statement from leaders, each shift on the battlefield, and each announcement",
        ),
        (  # nothing but echo: keep the clause
            "Does Moscow insist?",
            "Moscow insists",
            "Moscow insists",
        ),
    ],
)
def test_focus_keeps_what_answers_and_drops_the_echo(question: str, clause: str, expected: str) -> None:
    assert answer_of(question, clause) == expected


def test_focus_matches_derived_forms_of_question_words() -> None:
    # "Russian" echoes "Russia", so the run after the echoed words wins.
    answer = answer_of(
        "How does Russia view the latest U.S.-Ukraine draft?",
        "Russian leadership considers the latest U.S.–Ukraine draft a potential platform for discussion",
    )
    assert answer == "potential platform for discussion"


def test_list_items_split_an_enumeration_with_exact_spans() -> None:
    text = "Russia seeks to limit military capacities, restrict Western support, and prevent alliances."
    start = text.index("limit")
    items = list_items(text, start, len(text) - 1)
    assert [text[a:b] for a, b in items] == [
        "limit military capacities",
        "restrict Western support",
        "prevent alliances",
    ]


def test_list_items_keep_a_conjunction_inside_an_item() -> None:
    text = "fraught with disagreements, regional politics, and disputes over sovereignty and security"
    start = text.index("disagreements")
    assert [text[a:b] for a, b in list_items(text, start, len(text))] == [
        "disagreements",
        "regional politics",
        "disputes over sovereignty and security",
    ]


def test_list_items_ignore_two_part_phrases() -> None:
    text = "Ukraine and Russia disagree, sharply."
    assert list_items(text, 0, len(text)) == []


def test_headings_are_lines_of_their_own_without_final_punctuation() -> None:
    text = "Intro sentence.\nA Growing Divide Among Allies\n- a bullet item\nBody text ends here."
    heading = text.index("A Growing")
    assert is_heading(text, heading, heading + len("A Growing Divide Among Allies"))
    bullet = text.index("- a bullet")
    assert not is_heading(text, bullet, bullet + len("- a bullet item"))
    assert not is_heading(text, 0, len("Intro sentence."))


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many troops would a monitoring force have?", "number"),
        ("What is the population of St. Louis?", "number"),
        ("In what year did the war begin?", "date"),
        ("When was the framework agreed?", "date"),
        ("Which provisions were removed when the framework was refined?", None),
        ("Which military alliance could be drawn into the conflict?", "name"),
        ("Who published this article?", "person"),
        ("Where are the negotiations taking place?", "place"),
        ("What does Moscow insist on?", None),
    ],
)
def test_expected_answer_kind_comes_from_the_opening_wh_phrase(question: str, kind: str | None) -> None:
    assert expected_type(question) == kind


def test_type_matches_each_kind() -> None:
    assert type_matches("number", "about 5,000 troops", "How many troops?")
    assert not type_matches("number", "an international force", "How many troops?")
    assert type_matches("date", "in March 2024", "When?")
    assert type_matches("place", "talks in Geneva", "Where are talks?")
    assert not type_matches("place", "U.S.; Ukraine; Russia", "Where are talks?")
    assert type_matches("person", "major international partners", "From whom?")
    assert type_matches("name", "the United States, Ukraine, and Russia", "Which countries are involved?")
    assert not type_matches("name", "international monitoring forces", "Which countries are involved?")


@pytest.mark.parametrize(
    ("question", "why"),
    [
        ("Why does Ukraine want security guarantees?", True),
        ("And why did the talks stall?", True),
        ("What is the reason for the delay?", True),
        ("What does Moscow insist on?", False),
        ("Who reviews the content?", False),
    ],
)
def test_why_questions_are_recognised(question: str, why: bool) -> None:
    assert Question(question, CORPUS).why is why


@pytest.mark.parametrize(
    ("sentence", "anaphoric"),
    [
        ("These guarantees are viewed as essential.", True),
        ("Chief among those is the issue of territorial sovereignty.", True),
        ("However, each of these ideas carries political risks.", True),
        ("Ukraine is also focused on securing durable security guarantees.", False),
        ("Moscow continues to insist that Ukraine must cede territory.", False),
    ],
)
def test_anaphoric_openings_are_recognised(sentence: str, anaphoric: bool) -> None:
    assert bool(_ANAPHORIC.match(sentence)) is anaphoric


@pytest.mark.parametrize(
    ("question", "text", "wanted", "names"),
    [
        (
            "Which military alliance could be drawn into the conflict?",
            "supporting Ukraine, and preventing an escalation that could pull NATO",
            1,
            ["Ukraine", "NATO"],
        ),
        (
            "Which countries are involved?",
            "talks between the United States, Ukraine, and Russia",
            2,
            ["United States", "Ukraine", "Russia"],
        ),
        ("What does NATO want?", "NATO wants Ukraine to be safe", 0, ["Ukraine"]),  # echoed names are not answers
        ("Which country leads?", "Chief among those is Russia", 1, ["Russia"]),  # "Chief" is only sentence-initial
    ],
)
def test_proper_names_are_runs_of_the_corpus_names_the_question_lacks(
    question: str, text: str, wanted: int, names: list[str]
) -> None:
    q = Question(question, CORPUS)
    known = name_words(["The talks about NATO, the United States, Ukraine and Russia continue.", "The chief said so."])
    assert q.names_wanted == wanted
    assert [text[a:b] for a, b in proper_names(text, 0, len(text), q, known)] == names


def test_names_are_words_capitalised_past_a_sentence_start_outside_titles() -> None:
    names = name_words(
        [
            "Chief among those is the issue raised by Kyiv.",
            "How Negotiations Between the U.S. and Russia Are Progressing",  # a title: every word capitalised
            "Negotiations stall.",
        ]
    )
    assert names == {"kyiv"}
    assert title_cased("A Growing Divide Among Allies")
    assert not title_cased("A growing divide among Western allies")


def test_a_question_asking_for_names_is_answered_by_a_clause_that_holds_them(service: QAService) -> None:
    def scored(opening: str, score: float) -> Scored:
        clause = next(c for c in service.data.clauses if c.text.startswith(opening))
        return Scored(clause, score, 0.5, 0.5)

    ranked = [
        scored("For now, the following steps will involve", 0.6),  # one name: "Western"
        scored("How Negotiations Between the U.S.", 0.5),  # a title: capitalisation is no evidence
        scored("(STL.News) Negotiations between the United States", 0.4),
    ]
    q = Question("Which countries are involved in the negotiations?", service.answerer.lexical)
    assert service.answerer.answer_clause(q, ranked) is ranked[2]
    text, _ = service.answerer.extract(q, ranked[2])
    assert text == "United States; Ukraine; Russia"
    q = Question("What is involved in the negotiations?", service.answerer.lexical)  # no name asked
    assert service.answerer.answer_clause(q, ranked) is ranked[0]


def test_a_sentence_is_matched_with_its_heading_and_the_sentence_its_anaphor_points_to(service: QAService) -> None:
    text = service.data.documents[service.data.sentences[0].doc_id].text
    chief = next(s for s in service.data.sentences if s.text.startswith("Chief among those"))
    heading = next(s for s in reversed(service.data.sentences[: chief.sentence_id]) if is_heading(text, s.start, s.end))
    terms = service.answerer.context_terms(chief.sentence_id)
    assert {stem("red"), stem("lines")} <= terms  # from "...specific red lines cannot be crossed."
    assert frozenset(content_terms(heading.text)) <= terms
    opening = service.data.sentences[0]
    assert service.answerer.context_terms(opening.sentence_id) == frozenset(content_terms(opening.text))


def test_question_names_are_capitalised_words_after_the_first() -> None:
    assert question_names("Who is the president of Brazil?") == ["brazil"]
    assert question_names("What does Washington’s approach defer?") == ["washington"]
    assert question_names("Which Ukrainian diplomat spoke?") == ["ukrainian"]
    assert question_names("What is the capital of france?") == []  # lower case goes unseen


def test_a_name_the_sources_never_mention_caps_the_confidence(service: QAService) -> None:
    unknown = service.ask("Who is the president of Brazil?")
    assert unknown.abstained and unknown.confidence <= service.settings.abstention.unknown_name_cap
    known = Question("What does Moscow insist Ukraine must do?", service.answerer.lexical)
    assert known.unknown_names == []


def test_caps_bound_the_logistic_confidence() -> None:
    rule = AbstentionSettings(bias=5.0, weights={}, type_mismatch_cap=0.05, unknown_name_cap=0.02)
    assert rule.confidence({}) > 0.99
    assert rule.confidence({"type_checked": 1.0, "type_match": 0.0}) == 0.05
    assert rule.confidence({"type_checked": 1.0, "type_match": 1.0}) > 0.99
    assert rule.confidence({"unknown_name": 1.0}) == 0.02
