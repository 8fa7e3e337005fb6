"""The web page in a real browser: headless Debian Chromium driven by Playwright.

Skipped, saying why, when ``/usr/bin/chromium`` or the ``playwright`` package is missing
(``.ci/run`` installs both). Screenshots go to ``tests/artifacts/`` (not committed).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LAUNCH_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Astral characters (two UTF-16 units each) before the cited sentence: a page that slices
# JavaScript strings by code-point offsets would highlight the wrong text.
ROCKETS = (
    "# Rocket notes 🚀\n\n"
    "Launch day 🚀🚀🚀 was loud 😀 and the crowd cheered 𝔸𝔹ℂ.\n"
    "The Falcon rocket's first stage landed on the drone ship in April 2016.\n"
    "Spectators 👩‍🚀 watched from the beach.\n"
)
QUESTION = "Where did the Falcon first stage land?"
UNANSWERABLE = "How many kilometres is it from the Moon to Mars?"

pytestmark = [pytest.mark.browser]
pytest_plugins = ("pytester",)


def _playwright() -> Any:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    return sync_playwright


def _unexpected(message: Any) -> bool:
    """A console error, other than the 404 of a page that is meant to be missing."""
    deliberate = message.location.get("url", "").endswith("/ui/documents/no-such-document")
    return bool(message.type == "error" and not deliberate)


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    sync_playwright = _playwright()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "chromium-profile"),  # fresh every test
            executable_path=str(CHROMIUM),
            headless=True,
            args=LAUNCH_ARGS,
            viewport={"width": 1200, "height": 900},
            reduced_motion="reduce",
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda msg: errors.append(msg.text) if _unexpected(msg) else None)
            yield page
            assert not errors, f"the page logged errors: {errors}"
        finally:
            context.close()


@pytest.fixture
def server(live_server: Callable[..., str], tmp_path: Path) -> str:
    (tmp_path / "seeds" / "rockets.txt").write_text(ROCKETS, encoding="utf-8")
    return live_server()


def _ask(base: str, question: str) -> dict[str, Any]:
    response = httpx.post(f"{base}/ask", json={"question": question}, timeout=30)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def _screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_highlights_equal_the_cited_quotes_with_astral_characters_before_them(browser_page: Any, server: str) -> None:
    expected = _ask(server, QUESTION)
    assert not expected["abstained"] and expected["citations"], expected
    first = expected["citations"][0]
    document = httpx.get(f"{server}/documents/{first['doc_id']}").json()
    before = document["text"][: first["start"]]
    assert first["doc_id"] == "rockets" and sum(ord(ch) > 0xFFFF for ch in before) >= 5  # the point of the test

    page = browser_page
    page.goto(f"{server}/")
    page.get_by_label("Your question").fill(QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_selector("#answer .card.answered")

    assert page.locator("#answer").get_attribute("aria-live") == "polite"
    assert page.locator("#answer .answer-text").inner_text().startswith(expected["answer"])
    assert page.locator("#answer meter").get_attribute("value") == str(expected["confidence"])
    for n, citation in enumerate(expected["citations"], 1):
        mark = page.locator(f"mark#cite-{n}")
        assert mark.count() == 1
        assert mark.text_content() == citation["quote"]  # the highlight is exactly the cited text
        # The page's own converter agrees with Python's code-point slicing.
        sliced = page.evaluate(
            "([text, s, e]) => window.rag.sliceCodePoints(text, s, e)",
            [document["text"], citation["start"], citation["end"]],
        )
        assert sliced == citation["quote"]
    assert page.locator("mark.cite").count() == len(expected["citations"])

    # Clicking a citation scrolls its mark into view and focuses it; the URL names it.
    page.locator("#answer ol.citations a.cite-link").first.click()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'cite-1'")
    assert page.locator("mark#cite-1").is_visible()
    assert page.url.endswith("#cite-1")
    _screenshot(page, "web-answer.png")

    # The permalink opens the document page with the same span highlighted (rendered by the server).
    page.locator("#answer ol.citations .where a").first.click()
    page.wait_for_selector("mark#span")
    assert page.locator("mark#span").text_content() == first["quote"]
    assert page.locator(".notice.warning").count() == 0  # the citation's sha256 is current
    _screenshot(page, "web-span.png")


def test_abstention_is_shown_with_the_nearest_passages(browser_page: Any, server: str) -> None:
    expected = _ask(server, UNANSWERABLE)
    assert expected["abstained"], expected
    page = browser_page
    page.goto(f"{server}/?q={httpx.QueryParams({'q': UNANSWERABLE})['q']}")  # a shared link asks at once
    page.wait_for_selector("#answer .card.abstained")
    card = page.locator("#answer .card.abstained")
    assert "Not in the sources" in card.inner_text()
    assert page.locator("#answer .passages li").count() == min(3, len(expected["passages"]))
    assert page.locator("mark.cite").count() == 0
    assert page.locator("#sources").is_hidden()
    assert page.locator("#status").inner_text() == "No answer was found in the sources."
    _screenshot(page, "web-abstained.png")


def test_keyboard_only_use(browser_page: Any, server: str) -> None:
    page = browser_page
    page.goto(f"{server}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")  # skip link -> main
    page.locator("#question").focus()
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_selector("#answer .card.answered")
    # Tab reaches the citation link in the answer; Enter on it moves focus to the highlight.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('cite-link')"):
            break
    else:
        pytest.fail("no citation link is reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement && document.activeElement.tagName === 'MARK'")
    # Focus is visible: the focused mark has an outline.
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")


def test_document_pages_and_stale_citations(browser_page: Any, server: str) -> None:
    page = browser_page
    page.goto(f"{server}/ui/documents")
    page.get_by_role("link", name="Rocket notes 🚀").click()
    page.wait_for_selector("h1")
    assert page.locator("h1").inner_text() == "Rocket notes 🚀"
    text = ROCKETS
    start = text.index("The Falcon")
    end = text.index("2016.") + len("2016.")
    page.get_by_label("Start").fill(str(start))
    page.get_by_label("End").fill(str(end))
    page.get_by_role("button", name="Show span").click()
    page.wait_for_selector("mark#span")
    assert page.locator("mark#span").text_content() == text[start:end]
    page.goto(f"{server}/ui/documents/rockets?start={start}&end={end}&sha256={'0' * 64}")
    assert "This document has changed" in page.locator(".notice.warning").inner_text()
    page.goto(f"{server}/ui/documents/no-such-document")
    assert page.locator("h1").inner_text() == "No such document"


def test_screenshot_artifacts_are_not_committed() -> None:
    ignored = (Path(__file__).resolve().parent.parent / ".gitignore").read_text(encoding="utf-8")
    assert "tests/artifacts/" in ignored.splitlines()


GOLD_CONFTEST = """
from tests.conftest import FakeEmbedder

def pytest_rag_embedder(config, settings):
    return FakeEmbedder()
"""


def _select(page: Any, text: str) -> None:
    """Select ``text`` in the document's text box, as a drag of the mouse would (one Range)."""
    page.evaluate(
        """(wanted) => {
            const box = document.getElementById("doc-text");
            const node = [...box.childNodes].find((n) => n.nodeType === Node.TEXT_NODE && n.data.includes(wanted));
            const start = node.data.indexOf(wanted);
            const range = document.createRange();
            range.setStart(node, start);
            range.setEnd(node, start + wanted.length);
            const selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
        }""",
        text,
    )


def test_a_gold_line_made_by_selection_has_code_point_offsets_and_passes_the_plugin(
    browser_page: Any, live_server: Callable[..., str], settings: Any, tmp_path: Path, pytester: pytest.Pytester
) -> None:
    from playwright.sync_api import expect

    from tests.conftest import tuned

    (tmp_path / "seeds" / "rockets.txt").write_text(ROCKETS, encoding="utf-8")
    key = "k" * 24
    base = live_server(tuned(settings, security={"api_key": key}, rate_limit={"enabled": False}))
    page = browser_page
    page.goto(f"{base}/ui/documents/rockets")

    # Astral characters inside the selection and before it: UTF-16 and code-point offsets differ.
    inside = "🚀🚀🚀 was loud 😀 and the crowd cheered 𝔸𝔹ℂ"
    _select(page, inside)
    expect(page.locator("#gold-selection")).to_contain_text("Selected characters")
    page.get_by_label("Question", exact=True).fill("How was launch day?")
    page.get_by_label("Short answers, one per line").fill("loud")
    page.get_by_role("button", name="Make gold line").click()

    evidence = "The Falcon rocket's first stage landed on the drone ship in April 2016."
    _select(page, evidence)
    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_label("Short answers, one per line").fill("on the drone ship")
    page.get_by_role("button", name="Make gold line").click()

    made = [json.loads(line) for line in page.locator("#gold-lines").input_value().splitlines()]
    assert [line["id"] for line in made] == ["rockets-1", "rockets-2"]  # the id field's default, then the next
    for line, text in zip(made, (inside, evidence), strict=True):
        span = line["evidence"][0]
        assert ROCKETS[span["start"] : span["end"]] == span["text"] == text, span  # code points, as Python counts
        assert span["doc_id"] == "rockets"
    assert made[0]["evidence"][0]["start"] == ROCKETS.index(inside)

    with page.expect_download() as download:
        page.get_by_role("button", name="Download JSONL").click()
    assert Path(download.value.path()).read_text(encoding="utf-8") == page.locator("#gold-lines").input_value()

    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Append to the server's gold file").click()
    expect(page.locator("#gold-status")).to_contain_text("Appended rockets-2")
    gold_file = Path(settings.paths.gold)
    assert [json.loads(line)["id"] for line in gold_file.read_text(encoding="utf-8").splitlines()] == [
        "rockets-1",
        "rockets-2",
    ]

    # The plugin passes on the line made by selection.
    appended = gold_file.read_text(encoding="utf-8").splitlines()[1]
    (pytester.path / "gold.jsonl").write_text(appended + "\n", encoding="utf-8")
    pytester.makeconftest(GOLD_CONFTEST)
    result = pytester.runpytest(
        "--rag-gold", "gold.jsonl", "--rag-seeds", str(tmp_path / "seeds"), "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1)


def test_the_placeholder_question_is_answered_from_its_evidence(
    browser_page: Any, live_server: Callable[..., str]
) -> None:
    """The placeholder is a promise: asked as it stands, it gets the gold answer (eval/dev.jsonl d05)."""
    base = live_server()
    page = browser_page
    page.goto(f"{base}/")
    question = page.get_by_label("Your question").get_attribute("placeholder").removeprefix("e.g. ")
    page.get_by_label("Your question").fill(question)
    page.keyboard.press("Enter")
    page.wait_for_selector("#answer .card.answered")
    assert "potential platform for further discussion" in page.locator("#answer .answer-text").inner_text()
    assert "potential platform for further discussion" in page.locator("mark.cite").first.text_content()


def test_long_titles_are_cut_on_small_screens(browser_page: Any, live_server: Callable[..., str]) -> None:
    base = live_server()
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/?q=What does Moscow insist Ukraine must do?")
    page.wait_for_selector("#answer .card.answered")
    link = page.locator("#answer .where a").first
    line_height = float(page.evaluate("(a) => parseFloat(getComputedStyle(a).lineHeight)", link.element_handle()))
    assert link.bounding_box()["height"] < 2 * line_height  # one line, not five
    assert link.get_attribute("title")  # the whole title on hover
    link.focus()
    assert page.evaluate("(a) => getComputedStyle(a).whiteSpace", link.element_handle()) == "normal"


def test_the_api_docs_render_with_nothing_from_another_host(browser_page: Any, server: str) -> None:
    """Swagger UI at /schema draws the operations from files the app serves (issue 12, item 15):
    every request the page makes goes to the server, and the page works with no other host."""
    requested: list[str] = []
    browser_page.on("request", lambda request: requested.append(request.url))
    browser_page.route(
        lambda url: not url.startswith(server), lambda route: route.abort()
    )  # offline but for the server: a CDN asset would fail to load, and the page would stay blank
    browser_page.goto(f"{server}/schema")
    browser_page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = browser_page.locator(".opblock-summary-path").all_inner_texts()
    assert "/ask" in [p.strip().replace("\u200b", "") for p in paths]
    assert requested and all(url.startswith(server) for url in requested), requested
