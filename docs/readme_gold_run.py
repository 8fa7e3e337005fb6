"""Regenerate the README's sample run of the pytest plugin (block ``gold-run``) from a real run.

    python docs/readme_gold_run.py            # run it, then rewrite the README's block
    python docs/readme_gold_run.py --print    # run it and print the block only

In a scratch folder: this project's seeds and ``config/rag.toml`` (as ``rag.toml``), and six
questions of ``eval/dev.jsonl`` as ``gold.jsonl``. ``rag eval --save-baseline`` pins their
outcomes; then one seed sentence is reworded, as an editor might, and the plugin runs against the
baseline: ``pytest --rag-gold gold.jsonl --rag-seeds seeds --rag-baseline baseline.json``. The
block is pytest's output from the first test line on. ``tests/test_readme.py`` checks that its
messages are the plugin's and its questions are the gold set's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from readme_examples import README, ROOT, replace_block

QUESTIONS = ("d02", "d05", "d07", "d09", "d16", "d17")
SENTENCE = "the success of any deal will depend on how effectively it can be implemented and enforced"
REWORDED = "the success of any deal will depend on the political will behind it"


def run() -> str:
    with tempfile.TemporaryDirectory(prefix="rag-gold-run-") as scratch:
        work = Path(scratch)
        shutil.copytree(ROOT / "seeds", work / "seeds")
        shutil.copy(ROOT / "config" / "rag.toml", work / "rag.toml")
        lines = [line for line in (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip() and json.loads(line)["id"] in QUESTIONS]  # fmt: skip
        (work / "gold.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {**os.environ, "RAG_CONFIG": str(work / "rag.toml")}
        rag = [sys.executable, "-m", "rag.cli.main"]
        subprocess.run([*rag, "eval", "--set", "gold.jsonl", "--save-baseline", "baseline.json"],
                       cwd=work, env=env, check=True, capture_output=True)  # fmt: skip
        (seed,) = [path for path in (work / "seeds").iterdir() if SENTENCE in path.read_text(encoding="utf-8")]
        seed.write_text(seed.read_text(encoding="utf-8").replace(SENTENCE, REWORDED), encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "--rag-gold", "gold.jsonl", "--rag-seeds", "seeds", "--rag-config",
             "rag.toml", "--rag-baseline", "baseline.json", "-p", "no:cacheprovider", "--color=no"],
            cwd=work, env=env, capture_output=True, text=True,
        )  # fmt: skip
    output = result.stdout.splitlines()
    first = next(i for i, line in enumerate(output) if line.startswith("gold.jsonl "))
    return "```text\n" + "\n".join(output[first:]).rstrip() + "\n```\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="Print the block instead of rewriting README.md.")
    args = parser.parse_args()
    block = run()
    if args.print:
        print(block)
        return 0
    README.write_text(replace_block(README.read_text(encoding="utf-8"), "gold-run", block), encoding="utf-8")
    print("README.md: gold-run regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
