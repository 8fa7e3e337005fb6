"""Copy the README's performance and evaluation figures from the committed reports, so they cannot drift.

    python docs/readme_figures.py            # rewrite the README's report blocks
    python docs/readme_figures.py --print    # print them only

Nothing is measured here: the figures are read from ``benchmarks/REPORT.md`` (written by
``benchmarks/run_all.py``) and ``eval/HELD_OUT.md`` (written by ``rag fit --report``), and each
block says on what machine and at what load its figures were taken, as the reports record it.
``tests/test_readme.py`` checks that every block equals what this script writes from the
committed reports. The first-run figures and the JSON examples come from real runs instead:
``docs/readme_examples.py``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from readme_examples import README, ROOT, replace_block

REPORT = ROOT / "benchmarks" / "REPORT.md"
HELD_OUT = ROOT / "eval" / "HELD_OUT.md"
# The same held-out run with the reader as it stood at commit bfc466e, on the same gold sets.
HELD_OUT_BEFORE = ROOT / "eval" / "HELD_OUT_bfc466e.md"
# The same 532 questions as HELD_OUT_BEFORE, with the reader of commit d117e01 (today's code),
# measured before six documents were added to the gold sets.
HELD_OUT_SAME_QUESTIONS = ROOT / "eval" / "HELD_OUT_d117e01.md"
# The same questions read by the reader alone (span_head_sentences = 0), and by the first span head
# (it read the reader's best sentence only and never chose the sentence; commit 2ca3a81).
HELD_OUT_READER = ROOT / "eval" / "HELD_OUT_reader.md"
HELD_OUT_SPAN_HEAD = ROOT / "eval" / "HELD_OUT_span_head.md"
# The head on the best three sentences with the reader's own abstention rule (commit 997107a), before
# the rule that also reads the head's margin.
HELD_OUT_HEAD_VOTE = ROOT / "eval" / "HELD_OUT_head_vote.md"
# Then with that rule, the head's own span still answering short-answer questions (commit 691e62b),
# before the head voted on the reader's candidates instead.
HELD_OUT_HEAD_ABSTENTION = ROOT / "eval" / "HELD_OUT_head_abstention.md"
# Then the head voting on the reader's candidates (commit 8ee8b2a), before the heads were trained on
# each of the three sentences they read instead of the best one.
HELD_OUT_CANDIDATE_VOTE = ROOT / "eval" / "HELD_OUT_candidate_vote.md"
# Then the heads trained on each of the three sentences they read (commit 19371eb), the last run over
# these 1,082 questions: the twelve documents of the first three unseen rounds joined the fit after it.
HELD_OUT_THREE_SENTENCES = ROOT / "eval" / "HELD_OUT_19371eb.md"
ABLATIONS = ROOT / "eval" / "ABLATIONS.md"
# A shipped model on documents added after it was fitted, oldest first.
NEW_DOCUMENTS = (ROOT / "eval" / "NEW_DOCUMENTS_d117e01.md", ROOT / "eval" / "NEW_DOCUMENTS_119f91e.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_e4b869f.md", ROOT / "eval" / "NEW_DOCUMENTS_449e89d.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_bed9bf2.md", ROOT / "eval" / "NEW_DOCUMENTS_8ee8b2a.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_6857b52.md", ROOT / "eval" / "NEW_DOCUMENTS_19371eb.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_19371eb_round4.md", ROOT / "eval" / "NEW_DOCUMENTS_f7baa70.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_f7baa70_round5.md", ROOT / "eval" / "NEW_DOCUMENTS_f7baa70_round6.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_f7baa70_round7.md", ROOT / "eval" / "NEW_DOCUMENTS_93569e9_round7.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_93569e9_round8.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_abcabcc_round8.md", ROOT / "eval" / "NEW_DOCUMENTS_abcabcc_round9.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_aaec812_round9.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_aaec812_round10.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_0ac0881_round11_12.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_6de0f19_round11_12.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_0bbed16_round13.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_84d8915_round13.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_7064868_round14.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_44352b9_round13.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_44352b9_round14.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_c0c7646_round15.md",
                 ROOT / "eval" / "NEW_DOCUMENTS_6d3f0aa_round16.md")  # fmt: skip
SETS = ROOT / "eval" / "sets.toml"

Row = dict[str, str]


def block_free(text: str) -> str:
    """``text`` without its generated blocks (what was typed by hand)."""
    return re.sub(r"<!-- begin generated: ([\w-]+) -->\n.*?<!-- end generated: \1 -->", "", text, flags=re.S)


def sections(text: str) -> dict[str, str]:
    """A Markdown report's ``## `` sections by title (the text before the first is under "")."""
    parts = re.split(r"^## ", text, flags=re.M)
    found = {"": parts[0]}
    for part in parts[1:]:
        title, _, body = part.partition("\n")
        found[title.strip()] = body
    return found


def tables(body: str) -> list[list[Row]]:
    """Every Markdown table in ``body``, each as rows keyed by its header cells."""
    found: list[list[Row]] = []
    lines = body.splitlines()
    for index, line in enumerate(lines):
        starts = line.startswith("|") and (index == 0 or not lines[index - 1].startswith("|"))
        if not starts or index + 1 >= len(lines) or not lines[index + 1].startswith("|---"):
            continue
        header = cells(line)
        rows = []
        for row_line in lines[index + 2 :]:
            if not row_line.startswith("|"):
                break
            rows.append(dict(zip(header, cells(row_line), strict=True)))
        found.append(rows)
    return found


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def only(rows: list[Row], **match: str) -> Row:
    (row,) = [row for row in rows if all(row[key] == value for key, value in match.items())]
    return row


def conditions(body: str) -> str:
    """The machine and load line a benchmark section records at its start, with any busy processes."""
    machine = re.search(r"^machine: (.+)$", body, re.M)
    if machine is None:
        raise ValueError("a report section without its machine line")
    busy = re.search(r"^other busy processes at start: (.+)$", body, re.M)
    said = machine.group(1).replace("; load average at start", ", load average at start")
    if busy:
        count = busy.group(1).count(";") + 1
        said += f" ({count} other busy process{'es' if count > 1 else ''})"
    return said


def ms(value: str) -> str:
    return f"{float(value.replace(',', '')):.1f} ms"


def whole(value: str) -> str:
    return f"{float(value.replace(',', '')):.0f}"


def performance(report: str) -> str:
    found = sections(report)
    serving_body = found["Serving: /ask under load"]
    (serving,) = tables(serving_body)
    generator = re.search(r"^load generator: (.+)$", serving_body, re.M)
    assert generator is not None

    def cell(configuration: str, concurrency: str, column: str) -> str:
        return only(serving, configuration=configuration, concurrency=concurrency)[column]

    rows = [
        ("`/ask`, a repeated question (answer cache)", "onnx-int8 (default), cache on",
         "onnx-int8 (default), cache on, 2 workers"),
        ("`/ask`, caches off (every question new)", "onnx-int8 (default), cache off",
         "onnx-int8 (default), cache off, 2 workers"),
        ("the same, span head off", "onnx-int8 (default), cache off, span head off", None),
        ("the same, fp32 model (`onnx`), cache off", "onnx, cache off", "onnx, cache off, 2 workers"),
        ("first commit (torch, no cache)", "before: first commit, torch", None),
    ]
    lines = [
        "| one worker unless said | median | p95 | requests/s at concurrency 32 | errors |",
        "|---|---|---|---|---|",
    ]
    for label, configuration, two_workers in rows:
        rps = whole(cell(configuration, "32", "requests/s"))
        if two_workers:
            rps += f" ({whole(cell(two_workers, '32', 'requests/s'))} with 2 workers)"
        lines.append(
            f"| {label} | {ms(cell(configuration, '1', 'median ms'))} | {ms(cell(configuration, '1', 'p95 ms'))} "
            f"| {rps} | {cell(configuration, '32', 'errors')} |"
        )
    cold_body = found["Cold start"]
    (cold,) = tables(cold_body)
    starts = ", ".join(f"{row['backend']} {float(row['serve -> first answer s (median)']):.1f} s" for row in cold)
    (path,) = tables(found["Query path breakdown (in process)"])
    embed = only(path, stage="embed question", variant="onnx-int8, 1 thread")["median ms"]
    extract = only(path, stage="answer extraction")["median ms"]
    (scale,) = tables(found["Dense search at scale (synthetic clustered 384-d vectors)"])
    exact = only(scale, vectors="1,000,000", index="exact (IndexFlatIP)")
    hnsw = only(scale, vectors="1,000,000", index="HNSW M=32 efC=80", **{"search setting": "efSearch=128"})
    stages_body = found["Index build by stage, per MB of text (eval/corpus + seeds)"]
    (stages,) = tables(stages_body)
    per_mb = {row["stage"]: float(row["seconds per MB"]) for row in stages}
    serving_conditions = conditions(serving_body)
    return (
        f"`/ask` over the seed corpus, default model (`onnx-int8`) unless said, {generator.group(1)}; measured on "
        f"{serving_conditions}:\n\n" + "\n".join(lines) + "\n\n"
        f"- Server RSS before the load: {whole(cell('onnx-int8 (default), cache on', '1', 'RSS before MB'))} MB "
        f"(onnx-int8), {whole(cell('onnx, cache on', '1', 'RSS before MB'))} MB (onnx), "
        f"{whole(cell('torch, cache on', '1', 'RSS before MB'))} MB (torch), "
        f"{whole(cell('onnx-int8 (default), cache on, 2 workers', '1', 'RSS before MB'))} MB for 2 onnx-int8 workers "
        f"(the same run: {serving_conditions}).\n"
        f"- `rag serve` with the index built, to the first answer (median of 3): {starts} "
        f"({conditions(cold_body)}).\n"
        f"- In process, a new question costs {float(embed):.1f} ms of embedding (onnx-int8, 1 thread) and "
        f"{float(extract):.1f} ms of answer extraction, medians "
        f"({conditions(found['Query path breakdown (in process)'])}).\n"
        f"- Index build, per MB of text (eval/corpus and the seeds): {per_mb['all stages']:.0f} s, of which the "
        f"spaCy parse {per_mb['linguistic analysis (spaCy parse + candidates)']:.0f} s and embedding "
        f"{per_mb['embedding (chunks, sentences, clauses)']:.0f} s ({conditions(stages_body)}).\n"
        f"- Dense search at 1M synthetic vectors: exact {ms(exact['median ms'])}; HNSW (M=32, efSearch=128) "
        f"{ms(hnsw['median ms'])} with recall@10 {hnsw['recall@10']} "
        f"({conditions(found['Dense search at scale (synthetic clustered 384-d vectors)'])}).\n"
    )


def three(value: str) -> str:
    return f"{float(value):.3f}"


def held_out(report: str) -> str:
    (rows,) = tables(report)
    by_group = {row["group"]: row for row in rows}
    lines = [
        "| held out (`eval/HELD_OUT.md`) | questions | F1 | citation precision | evidence recall | hit@3 "
        "| answerable refused | unanswerable refused |",
        "|---|---|---|---|---|---|---|---|",
    ]
    documents = [group for group in by_group if group.startswith("doc:")]
    for label, group in ((f"all {len(documents) + 1} documents", "all"), ("the article (dev + own)", "genre:news")):
        row = by_group[group]
        lines.append(
            f"| {label} | {row['questions']} | {three(row['token_f1'])} | {three(row['citation_precision'])} "
            f"| {three(row['citation_recall'])} | {three(row['hit@3'])} | {three(row['abstained_answerable'])} "
            f"| {three(row['abstained_unanswerable'])} |"
        )

    def short(value: str) -> str:
        return f"{float(value):.3f}".removeprefix("0")

    corpus_f1 = statistics.fmean(float(by_group[group]["token_f1"]) for group in documents)
    genres = sorted(
        (group for group in by_group if group.startswith("genre:") and group != "genre:news"),
        key=lambda group: -float(by_group[group]["token_f1"]),
    )
    kinds = sorted(
        (group for group in by_group if group.startswith("kind:") and group != "kind:unanswerable"),
        key=lambda group: -float(by_group[group]["token_f1"]),
    )

    def refused(group: str) -> str:
        row = by_group[group]
        total = int(row["questions"])
        return f"{round(float(row['abstained_unanswerable']) * total)}/{total}"

    calibration = re.search(r"AUROC ([\d.]+), expected calibration error ([\d.]+)", report)
    assert calibration is not None
    return (
        "\n".join(lines) + "\n\n"
        f"F1 over the {len(documents)} corpus documents alone is {corpus_f1:.3f} (mean of the per-document rows). "
        "By genre (F1 / citation precision): "
        + ", ".join(
            f"{group.removeprefix('genre:')} {short(by_group[group]['token_f1'])}/"
            f"{short(by_group[group]['citation_precision'])}"
            for group in genres
        )
        + ". By kind (F1): "
        + ", ".join(f"{group.removeprefix('kind:')} {short(by_group[group]['token_f1'])}" for group in kinds)
        + f". Off-topic questions refused: {refused('unanswerable:off-topic')}; on-topic unanswerable ones: "
        f"{refused('unanswerable:on-topic')}. The abstention probability has AUROC {float(calibration.group(1)):.3f} "
        f"and expected calibration error {float(calibration.group(2)):.2f} on held-out documents. Citation validity "
        f"is {float(by_group['all']['citation_validity']):.0%} everywhere (the server checks every quote). "
        "Computed in process by `rag fit`, so no machine load enters these figures.\n"
    )


def corpus() -> str:
    """The gold sets' sizes, counted from the files ``eval/sets.toml`` names."""
    import json
    import tomllib
    from collections import Counter

    sets = tomllib.loads(SETS.read_text(encoding="utf-8"))["set"]
    lines = []
    for gold_set in sets:
        items = [json.loads(line) for path in gold_set["gold"]
                 for line in (ROOT / path).read_text(encoding="utf-8").splitlines() if line.strip()]  # fmt: skip
        kinds = Counter(
            f"{item['kind']} ({item['topic']}-topic)" if item.get("topic") else item["kind"] for item in items
        )
        documents = {item.get("doc") or gold_set["seeds"] for item in items}
        genres = set(gold_set.get("genres", {}).values()) or {gold_set.get("genre", "")}
        # rounded: a few documents hold fewer questions (the sixth round's short pages, 18 each)
        per_document = ", ".join(f"{kind} {count / len(documents):.2g}" for kind, count in kinds.most_common())
        lines.append(
            f"- `{gold_set['name']}` (`{gold_set['seeds']}`): {len(items)} questions over {len(documents)} "
            f"document{'s' if len(documents) != 1 else ''} of {len(genres)} genre{'s' if len(genres) != 1 else ''}; "
            f"per document: {per_document}."
        )
    return "\n".join(lines) + "\n"


def compared(reports: tuple[tuple[str, str], ...], title: str = "held out, all questions") -> str:
    """The whole held-out row of each (label, report): runs over the same questions, held out the same way."""
    columns = ("token_f1", "citation_precision", "citation_recall", "abstained_answerable", "abstained_unanswerable")
    lines = [
        f"| {title} | F1 | citation precision | evidence recall | answerable refused | unanswerable refused |",
        "|---|---|---|---|---|---|",
    ]
    for label, report in reports:
        (rows,) = tables(report)
        row = only(rows, group="all")
        lines.append(f"| {label} | " + " | ".join(three(row[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def new_documents(reports: tuple[Path, ...]) -> str:
    """Each frozen model's figures on documents added after it was fitted (``rag eval``'s metric table)."""
    columns = (("token_f1", "answerable"), ("citation_precision", "answerable"), ("citation_recall", "answerable"),
               ("abstained_answerable", "answerable"), ("abstained_unanswerable", "unanswerable"))  # fmt: skip
    lines = [
        "| documents added after the model was fitted | F1 | citation precision | evidence recall "
        "| answerable refused | unanswerable refused |",
        "|---|---|---|---|---|---|",
    ]
    for path in reports:
        (rows,) = tables(path.read_text(encoding="utf-8"))
        value = {row["metric"]: row for row in rows}
        docs = [c for c in value["token_f1"] if c.startswith("doc:")]
        lines.append(f"| {len(docs)} documents (`{path.relative_to(ROOT)}`) | "
                     + " | ".join(three(value[metric][group]) for metric, group in columns) + " |")  # fmt: skip
    return "\n".join(lines) + "\n"


def blocks() -> dict[str, str]:
    """The README's report blocks, as this script writes them from the committed reports."""
    held_out_now = HELD_OUT.read_text(encoding="utf-8")
    return {
        "performance": performance(REPORT.read_text(encoding="utf-8")),
        "corpus": corpus(),
        "held-out": held_out(held_out_now),
        "before-after": compared((
            ("the reader at commit bfc466e (`eval/HELD_OUT_bfc466e.md`)", HELD_OUT_BEFORE.read_text(encoding="utf-8")),
            ("the reader at commit d117e01 (`eval/HELD_OUT_d117e01.md`)",
             HELD_OUT_SAME_QUESTIONS.read_text(encoding="utf-8")),
        )),
        "span-head": compared((
            ("the reader alone (`eval/HELD_OUT_reader.md`)", HELD_OUT_READER.read_text(encoding="utf-8")),
            ("the head on the reader's best sentence only (`eval/HELD_OUT_span_head.md`)",
             HELD_OUT_SPAN_HEAD.read_text(encoding="utf-8")),
            ("the head on the best three sentences (`eval/HELD_OUT_head_vote.md`)",
             HELD_OUT_HEAD_VOTE.read_text(encoding="utf-8")),
            ("the same, its margin in the abstention rule (`eval/HELD_OUT_head_abstention.md`)",
             HELD_OUT_HEAD_ABSTENTION.read_text(encoding="utf-8")),
            ("the same, the head voting on the reader's candidates instead of its own span "
             "(`eval/HELD_OUT_candidate_vote.md`)", HELD_OUT_CANDIDATE_VOTE.read_text(encoding="utf-8")),
            ("the same, the head trained on each of the three sentences it reads (`eval/HELD_OUT_19371eb.md`)",
             HELD_OUT_THREE_SENTENCES.read_text(encoding="utf-8")),
        )),
        "ablations": ABLATIONS.read_text(encoding="utf-8"),
        "new-documents": new_documents(NEW_DOCUMENTS),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="Print the blocks instead of rewriting README.md.")
    args = parser.parse_args()
    generated = blocks()
    if args.print:
        for name, body in generated.items():
            print(f"--- {name}\n{body}")
        return 0
    text = README.read_text(encoding="utf-8")
    for name, body in generated.items():
        text = replace_block(text, name, body)
    README.write_text(text, encoding="utf-8")
    print(f"README.md: {', '.join(generated)} copied from {REPORT.name}, {HELD_OUT.name}, {HELD_OUT_BEFORE.name} "
          f"and {SETS.name}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
