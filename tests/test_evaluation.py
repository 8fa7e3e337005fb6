"""Evaluation: the metrics themselves, then the real pipeline over the gold sets with thresholds.

The thresholds are the levels the pipeline reached when they were set (see the README's
evaluation table), rounded down a little for float noise between machines, and the
issue's targets where the pipeline meets them. Lowering one to make a change pass is a
regression; raise them when quality improves.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import load_settings
from rag.engine.service import QAService
from rag.eval.metrics import (
    GoldEvidence,
    Report,
    containment,
    evaluate,
    exact_match,
    load_gold,
    normalize_answer,
    overlap,
    token_f1,
)

ROOT = Path(__file__).resolve().parent.parent


def test_squad_normalisation_drops_case_punctuation_and_articles() -> None:
    assert normalize_answer("The  U.S.–Ukraine “draft”!") == "us–ukraine draft".replace("–", "")


def test_exact_match_and_f1() -> None:
    assert exact_match("The Territory", ["territory"]) == 1.0
    assert token_f1("cede territory", ["cede territory"]) == 1.0
    assert token_f1("cede territory now", ["cede territory"]) == pytest.approx(0.8)
    assert token_f1("nothing alike", ["cede territory"]) == 0.0
    assert token_f1("", ["cede territory"]) == 0.0
    assert containment("must cede all territory", ["cede territory"]) == 1.0


def test_overlap_of_spans() -> None:
    assert overlap(0, 10, 5, 20) == 5
    assert overlap(0, 5, 5, 10) == 0


def test_gold_sets_are_exact() -> None:
    text = (ROOT / "seeds" / "us-ukraine-russia-negotiations.txt").read_bytes().decode("utf-8")
    for name in ("dev.jsonl", "own.jsonl"):
        items = load_gold(ROOT / "eval" / name)
        assert len({item.id for item in items}) == len(items)
        for item in items:
            assert bool(item.answers) == bool(item.evidence) == item.answerable, item.id
            for evidence in item.evidence:
                assert isinstance(evidence, GoldEvidence)
                assert text[evidence.start : evidence.end] == evidence.text, item.id
    assert len(load_gold(ROOT / "eval" / "own.jsonl")) >= 40


@pytest.mark.parametrize(("folder", "least_questions", "least_documents"), [("corpus", 250, 10), ("unseen", 352, 16)])
def test_the_multi_genre_gold_sets_are_exact_and_large_enough(folder: str, least_questions: int,
                                                               least_documents: int) -> None:  # fmt: skip
    docs = ROOT / "eval" / folder / "docs"
    items = [item for path in sorted((ROOT / "eval" / folder / "gold").glob("*.jsonl")) for item in load_gold(path)]
    assert len(items) >= least_questions and len({item.id for item in items}) == len(items)
    assert len({item.doc for item in items}) >= least_documents
    for item in items:
        text = (docs / item.doc).read_bytes().decode("utf-8")
        assert bool(item.answers) == bool(item.evidence) == item.answerable, item.id
        assert item.answerable or item.topic in ("on", "off"), item.id
        for evidence in item.evidence:
            assert text[evidence.start : evidence.end] == evidence.text, item.id


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Report]]:
    from rag.embedding.sentence_transformers import SentenceTransformerEmbedder

    index = tmp_path_factory.mktemp("eval-index")
    settings = load_settings(
        ROOT / "config" / "rag.toml",
        environ={"RAG_PATHS__INDEX": str(index), "RAG_PATHS__SEEDS": str(ROOT / "seeds")},
    )
    service = QAService.open(settings, embedder=SentenceTransformerEmbedder())
    yield {name: evaluate(service, load_gold(ROOT / "eval" / name)) for name in ("dev.jsonl", "own.jsonl")}


# Floors for the staged reader (rag.answering), just under what it measures with the shipped
# model (fitted by `rag fit` on every gold set, these included): dev F1 .345, citation
# precision .632, recall .571, unanswerable refused 3/5; own F1 .397, precision .714, recall .595.
# They moved twice this round, for reasons that are general rather than the article's: the model is
# fitted on 21 documents instead of 13 (dev F1 .399 -> .345 in-sample; dev has 20 answerable
# questions, so about one answer), and the abstention threshold now refuses at most 7% of the
# answerable training questions instead of 10%, because held out the rate ran three points higher
# (answerable refused held out .135 -> .085; the article's in-sample precision and refusals of its
# unanswerables fell with it). The article-tuned clause answerer (dev F1 .72) did not carry over to
# other documents (F1 .174 on eval/corpus); see the README's evaluation section.
DEV_FLOORS = {
    "hit@3": 0.95,
    "mrr@10": 0.85,
    "token_f1": 0.33,
    "citation_precision": 0.62,
    "citation_recall": 0.55,
}
OWN_FLOORS = {
    "hit@3": 0.86,
    "mrr@10": 0.80,
    "token_f1": 0.35,
    "citation_precision": 0.70,
    "citation_recall": 0.58,
}
MOST_REFUSED = {"dev.jsonl": 0.15, "own.jsonl": 0.25}  # answerable questions refused, as measured
LEAST_REFUSED = {"dev.jsonl": 0.60, "own.jsonl": 0.72}  # unanswerable questions refused, as measured


@pytest.mark.model
@pytest.mark.parametrize(("name", "floors"), [("dev.jsonl", DEV_FLOORS), ("own.jsonl", OWN_FLOORS)])
def test_quality_holds_on_the_gold_sets(evaluated: dict[str, Report], name: str, floors: dict[str, float]) -> None:
    summary = evaluated[name].summary
    answerable = summary["answerable"]
    assert summary["all"]["citation_validity"] == 1.0
    for metric, floor in floors.items():
        assert answerable[metric] >= floor, f"{name}: {metric} = {answerable[metric]} < {floor}"
    assert answerable["abstained_answerable"] <= MOST_REFUSED[name]
    assert summary["unanswerable"]["abstained_unanswerable"] >= LEAST_REFUSED[name]


# Held-out floors: every question answered by the model fitted without its document
# (`rag fit` measured F1 .333, citation precision .644, recall .562, unanswerable refused .512,
# answerable refused .075, abstention AUROC .851 and expected calibration error .026 over 664
# questions on 27 documents; eval/HELD_OUT.md). The unanswerable floor was .55 with 21 documents
# (measured .577). Refitted with the 6 documents added since (questions written blind), the rule
# refuses fewer unanswerable questions held out, on old documents as on new ones: .512. Other
# refusal budgets trade along the same curve (.06 -> .512/.064, .10 -> .569/.103 answerable).
# With 46 documents (1,082 questions) it refuses .502: close to this floor, which stays.
HELD_OUT_FLOORS = {"token_f1": 0.31, "citation_precision": 0.60, "citation_recall": 0.52}
TWELVE_JOINED = ("libxml2-faq.md", "click-why.rst", "setuptools-development-mode.rst", "werkzeug-quickstart.rst",
                 "pygments-faq.rst", "attrs-glossary.md", "tornado-running.rst", "tornado-6.2-release-notes.rst",
                 "aiohttp-faq.rst", "aiohttp-request-lifecycle.rst", "babel-numbers.rst", "jinja2-sandbox.rst")
# The sixteen documents of the fourth to seventh unseen rounds, which joined the fit at 440177b.
SIXTEEN_JOINED = ("aiohttp-deployment.rst", "babel-installation.rst", "bind9-history.md",
                  "bind9-resource-requirements.md", "bind9-troubleshooting.md", "cryptography-api-stability.rst",
                  "cryptography-faq.rst", "cryptography-glossary.rst", "curl-security-process.md",
                  "debian-history-releases.md", "highlightjs-readme.md", "jinja2-switching.rst",
                  "libjxl-changelog.md", "markdown-3.4-release-notes.md", "requests-authentication.rst", "s6-svc.md")
# The twelve documents of the eighth to tenth unseen rounds, which joined the fit after the model of aaec812
# was measured on them (eval/NEW_DOCUMENTS_aaec812_round10.md).
LATEST_JOINED = ("sendmail-tuning.txt", "leveldb-implementation.md", "knot-kdig.md", "docutils-policies.rst",
                 "backup-manager-user-guide.txt", "ffmpeg-faq.md", "gpsbabel-skytraq.md", "slurm-scancel.md",
                 "linux-pam-admin-guide.txt", "ntpsec-ntpdig.md", "krb5-enctypes.md", "icinga2-upgrading.md")
# The eight documents of the eleventh and twelfth unseen rounds, which joined the fit after the model of 6de0f19
# was measured on them (eval/NEW_DOCUMENTS_6de0f19_round11_12.md).
EIGHT_JOINED = ("haproxy-starter-guide.txt", "celery-periodic-tasks.rst", "bup-restore.md", "brz-3.0-release-notes.md",
                "gnu-maintainer-information.txt", "wireshark-display-filters.md", "aptitude-command-line.md",
                "rsyslog-troubleshooting.rst")

JOINED_GROUPS = {"twelve": TWELVE_JOINED, "sixteen": SIXTEEN_JOINED, "latest": LATEST_JOINED, "eight": EIGHT_JOINED}


def joined_with(document: str) -> str:
    """Which documents ``document`` joined the fit with: the earlier ones, the twelve, the sixteen or the latest."""
    return next((group for group, documents in JOINED_GROUPS.items() if document in documents), "earlier")


@pytest.mark.model
def test_quality_holds_on_documents_held_out_from_fitting(tmp_path_factory: pytest.TempPathFactory) -> None:
    from rag.eval.fit import reader_held_out

    # The reader alone: with the span head, a held-out run also fine-tunes five heads (about half an
    # hour); `rag fit --report` measures it (eval/HELD_OUT.md).
    result = reader_held_out(ROOT, tmp_path_factory.mktemp("held-out"))
    assert result.report is not None
    summary = result.report.summary
    for metric, floor in HELD_OUT_FLOORS.items():
        assert summary["answerable"][metric] >= floor, f"held out: {metric} = {summary['answerable'][metric]}"
    assert summary["all"]["citation_validity"] == 1.0
    # The unanswerable floor was earned on the 46 documents fitted before the twelve of the first three
    # unseen rounds joined (their helpers wrote harder, less lexical questions): the reader alone
    # refuses .506 there and .35 on the twelve (measured at f7baa70, eval/EXPERIMENTS.md). With the
    # sixteen joined and max_document_coverage in the rule: .533 on the 46, .513 on the sixteen (both
    # counted as earlier here: .529), .383 on the twelve.
    unanswerable = [o for o in result.report.outcomes if not o.answerable]
    twelve = [o.abstained for o in unanswerable if joined_with(o.doc) == "twelve"]
    earlier = [o.abstained for o in unanswerable if joined_with(o.doc) in ("earlier", "sixteen")]
    assert sum(earlier) / len(earlier) >= 0.50, f"held out: unanswerable refused {sum(earlier)}/{len(earlier)}"
    assert sum(twelve) / len(twelve) >= 0.30
    # The eighth to tenth rounds, joined at 86 documents: .567 (34 of 60) held out, the earlier ones .514 and the
    # twelve .367 in the same run (eval/EXPERIMENTS.md, "The eighth to tenth rounds join the fit").
    latest = [o.abstained for o in unanswerable if joined_with(o.doc) == "latest"]
    assert sum(latest) / len(latest) >= 0.50
    # The eleventh and twelfth rounds, joined at 94 documents: .40 (16 of 40) held out, the earlier ones (with the
    # sixteen) .523, the twelve .417 and the latest .55 in the same run (2026-12-02, eval/EXPERIMENTS.md).
    eight = [o.abstained for o in unanswerable if joined_with(o.doc) == "eight"]
    assert sum(eight) / len(eight) >= 0.35
    assert summary["answerable"]["abstained_answerable"] <= 0.10
    # Off-topic questions are refused. On the earlier documents: 90 of 90 held out at f7baa70 and with 58 documents;
    # once the sixteen of the fourth to seventh rounds joined (74 documents), 84 of 90: a regression of two distinct
    # questions, which this floor records rather than hides. Five helpers asked "What is the chemical symbol for
    # gold?" and the refitted reader answers it from babel-numbers' grid table ("replaced by international currency
    # symbol", .64); "Which planet has the most moons?" gets highlight.js's table row "moonscript, moon". With
    # max_document_coverage, the rule refuses more on-topic unanswerable questions there (46 -> 52 of 165). The
    # twelve's helpers, blind to the rest of the corpus, asked "off-topic" questions whose subjects other corpus
    # documents cover (PostgreSQL, git rebase, SSH keys, rotated logs), and the reader quotes those documents for 7
    # of 24: near-topic for the index, not off it. The sixteen refuse 31 of 32. Each floor is under what was
    # measured (eval/EXPERIMENTS.md, "The fourth to seventh rounds join the fit").
    off_topic = [o for o in result.report.outcomes if o.topic == "off"]
    for group, floor in (("earlier", 0.90), ("twelve", 0.65), ("sixteen", 0.90), ("latest", 0.90),
                         ("eight", 0.90)):  # latest: 24/24, eight: 16/16  # fmt: skip
        refused = [o.abstained for o in off_topic if joined_with(o.doc) == group]
        assert sum(refused) / len(refused) >= floor, f"off-topic refused, {group}"
    assert result.calibration["auroc"] >= 0.80
    assert result.calibration["ece"] <= 0.08  # the confidence is a probability, not only a ranking


@pytest.mark.model
def test_off_topic_questions_are_refused(evaluated: dict[str, Report]) -> None:
    off_topic = {"d24", "o51", "o52", "o53", "o54", "o55", "o56", "o57", "o58", "o59"}  # France, water, ...
    outcomes = [o for report in evaluated.values() for o in report.outcomes if o.id in off_topic]
    assert len(outcomes) == len(off_topic)
    assert all(o.abstained for o in outcomes), [o.id for o in outcomes if not o.abstained]
