"""Text structure: blocks of Markdown, reStructuredText and plain text, with exact offsets."""

from __future__ import annotations

from rag.text.fences import Fences, closes
from rag.text.markup import strip_markup
from rag.text.segment import segments
from rag.text.structure import blocks


def kinds(text: str) -> list[tuple[str, str]]:
    return [(b.kind, text[b.start : b.end]) for b in blocks(text)]


def test_markdown_headings_lists_tables_and_code() -> None:
    text = (
        "# Install\n\nRun the installer:\n\n- on Linux\n- on macOS\n\n"
        "| option | default |\n|---|---|\n| --fast | off |\n\n```sh\nmake\n```\n"
    )
    assert kinds(text) == [
        ("heading", "Install"),
        ("paragraph", "Run the installer:"),
        ("list_item", "- on Linux"),
        ("list_item", "- on macOS"),
        ("table_row", "| option | default |"),
        ("table_row", "| --fast | off |"),
        ("code", "make"),
    ]


def test_restructuredtext_underlined_headings_definitions_and_literal_blocks() -> None:
    text = (
        "Glossary\n========\n\n"
        "term one\n   The first definition,\n   wrapped over two lines.\n\n"
        "Example::\n\n    x = 1\n\nAfter the example.\n"
    )
    found = kinds(text)
    assert found[0] == ("heading", "Glossary")
    assert found[1] == ("term", "term one")
    assert found[2] == ("definition", "The first definition,\n   wrapped over two lines.")
    assert ("code", "x = 1") in found and found[-1] == ("paragraph", "After the example.")


def test_a_hard_wrapped_sentence_is_one_sentence_under_its_numbered_heading() -> None:
    text = (
        "4.1. On what hardware does it\nrun?\n\n"
        "    It should work on all systems which are\n    supported by the kernel. See the FAQ.\n"
    )
    found = segments(text)
    assert [(s.kind, text[s.start : s.end]) for s in found] == [
        ("heading", "4.1. On what hardware does it\nrun?"),
        ("paragraph", "It should work on all systems which are\n    supported by the kernel."),
        ("paragraph", "See the FAQ."),
    ]
    assert found[1].context == 0 and found[2].context == 0  # both are under the heading


def test_faq_question_lines_are_headings_not_answers() -> None:
    text = "**(3) Is it threadsafe?**\n\n> Yes, it is.\n\nCan I copy it?\n\nYes, freely.\n"
    assert [k for k, _ in kinds(text)] == ["heading", "paragraph", "heading", "paragraph"]


def test_one_paragraph_a_line_text_breaks_at_every_line() -> None:
    long_line = "This paragraph is long enough that nobody would ever wrap it at a fixed width " * 2
    text = f"A Short Title\n{long_line}\n{long_line}\n"
    assert [k for k, _ in kinds(text)] == ["heading", "paragraph", "paragraph"]


def test_markup_is_stripped_from_answer_edges_only() -> None:
    for raw, expected in [
        (":exc:`KeyboardInterrupt`", "KeyboardInterrupt"),
        ("GPLv2](COPYING)", "GPLv2"),
        ("[VACUUM](lang_vacuum.html)", "VACUUM"),
        ("``except*``", "except*"),
        ("*syntax errors* and *exceptions*", "*syntax errors* and *exceptions*"),
        ("the :exc:`KeyboardInterrupt` exception", "the :exc:`KeyboardInterrupt` exception"),
    ]:
        start, end = strip_markup(raw, 0, len(raw))
        assert raw[start:end] == expected


def test_a_manual_page_option_line_is_not_a_heading() -> None:
    text = (
        "OPTIONS\n       -r, --reverse\n              reverse order while sorting\n\n"
        "       -t     sort by time, newest first; see --time\n\nEXIT STATUS\n       0      if OK,\n"
    )
    kinds = {text[s.start : s.end]: s.kind for s in segments(text)}
    assert kinds["-t     sort by time, newest first; see --time"] != "heading"
    assert kinds["-r, --reverse"] == "term" and kinds["reverse order while sorting"] == "definition"


def test_wide_tables_and_link_definitions_do_not_unwrap_a_hard_wrapped_text() -> None:
    prose = "The runtime can be built with a small or a full set of data, which makes it\neasier to write programs."
    table = "| " + " | ".join(["feature", "none", "system", "small", "full"] * 6) + " |"
    text = "\n\n".join([prose, table, "[ref]: https://example.org/" + "x" * 120, prose, prose])
    assert [text[s.start : s.end] for s in segments(text) if s.kind == "paragraph"] == [prose] * 3



def test_restructuredtext_link_targets_do_not_unwrap_a_hard_wrapped_text() -> None:
    prose = "Below, we outline various forms of authentication available in Requests, from\nthe simple to the complex."
    targets = [f".. _Flow {n}: https://example.org/" + "x" * 100 for n in range(3)]
    text = "\n\n".join([prose, prose, "\n".join(targets)])
    assert [text[s.start : s.end] for s in segments(text) if s.kind == "paragraph"] == [prose] * 2


def test_a_tilde_underline_is_a_heading_not_a_code_fence() -> None:
    # "~~~" also opens a Markdown fence; under a title it is an rST underline, and what follows is prose.
    text = ("netrc Authentication\n~~~~~~~~~~~~~~~~~~~~\n\n"
            "Requests reads ``~/.netrc`` when no auth is given.\n\nOAuth 1\n~~~~~~~\n")
    assert kinds(text) == [
        ("heading", "netrc Authentication"),
        ("paragraph", "Requests reads ``~/.netrc`` when no auth is given."),
        ("heading", "OAuth 1"),
    ]


def test_markdown_link_references_are_markup_not_content() -> None:
    text = ("See the [ICU data][icu] guide.\n\n[icu]: http://userguide.icu-project.org/icudata\n"
            '["ECMA-402"]: https://tc39.es/ecma402/ "spec"\n')
    assert kinds(text) == [("paragraph", "See the [ICU data][icu] guide.")]


def test_a_rule_under_a_paragraph_does_not_make_its_last_line_a_heading() -> None:
    text = ("5. Programs that require non-free firmware\n\n     The Debian official media may include\n"
            "     firmware that is otherwise not part of Debian.\n     ______________________________\n")
    assert ("heading", "firmware that is otherwise not part of Debian.") not in kinds(text)
    assert kinds(text)[-1][1].endswith("otherwise not part of Debian.")


def test_directive_options_and_bare_fields_are_markup() -> None:
    text = (":orphan:\n\n.. contents::\n    :depth: 3\n    :local:\n\n.. autoclass:: Sandbox\n"
            "    :members: is_safe_attribute,\n              call_binop\n\n"
            ":ref:`borg_info` shows how large archives are.\n\n.. note::\n   Notes keep their text.\n")
    assert kinds(text) == [
        ("paragraph", ":ref:`borg_info` shows how large archives are."),  # a role, not a field
        ("paragraph", "Notes keep their text."),  # a directive's content is not an option
    ]


def test_an_interactive_session_is_code_up_to_the_next_blank_line() -> None:
    # An rST doctest block ends at its first blank line; the prose after it is prose again.
    text = (">>> response.set_cookie('name', 'value')\n>>> response.headers['Set-Cookie']\n'name=value; Path=/'\n\n"
            "If headers appear multiple times you can use getlist\nto get all values for a header:\n\n"
            "   >>> headers.getlist('Set-Cookie')\n   ['name=value']\n\n   Indented prose after it.\n")
    assert kinds(text) == [
        ("code", ">>> response.set_cookie('name', 'value')\n>>> response.headers['Set-Cookie']\n'name=value; Path=/'"),
        ("paragraph", "If headers appear multiple times you can use getlist\nto get all values for a header:"),
        ("code", ">>> headers.getlist('Set-Cookie')\n   ['name=value']"),
        ("paragraph", "Indented prose after it."),
    ]


def test_a_line_of_inline_code_in_triple_backticks_opens_no_fence() -> None:
    # CommonMark: the info string after a backtick fence holds no backtick, so this line is prose.
    # Taken for a fence, it made the rest of an rST troubleshooting guide one 6 KB code block.
    text = "Run it like this:\n```rsyslogd -c5 -dn > logfile```\n\nThen read the log.\n\nIt holds the debug output.\n"
    assert kinds(text) == [
        ("paragraph", "Run it like this:\n```rsyslogd -c5 -dn > logfile```"),
        ("paragraph", "Then read the log."),
        ("paragraph", "It holds the debug output."),
    ]


def test_a_fence_is_closed_only_by_a_fence_as_long_alone_on_its_line() -> None:
    text = "````md\n```python\nx = 1\n```\n````\n\nAfter the code.\n"
    assert kinds(text) == [("code", "```python\nx = 1\n```"), ("paragraph", "After the code.")]


def test_a_fence_never_closed_is_prose_not_the_rest_of_the_document_as_code() -> None:
    text = "```\n\nFirst paragraph.\n\nSecond paragraph.\n"
    assert ("paragraph", "First paragraph.") in kinds(text) and ("paragraph", "Second paragraph.") in kinds(text)


def test_a_line_after_a_markdown_line_break_is_no_title() -> None:
    # Release notes converted to Markdown: "Codename:" and its value, with a hard line break between.
    # In text of one paragraph a line (the long one below) each line is a paragraph, and the value
    # was taken for a title; hard-wrapped, the two lines are one paragraph.
    notes = "## brz 3.0.0\n\nCodename:  \nPelican\n\n3.0.0:  \n2019-03-06\n\n"
    long_line = "The first release of Breezy, " + "a fork of Bazaar that moves the code base to Python 3, " * 3 + "."
    assert kinds(notes + long_line) == [
        ("heading", "brz 3.0.0"), ("paragraph", "Codename:"), ("paragraph", "Pelican"), ("paragraph", "3.0.0:"),
        ("paragraph", "2019-03-06"), ("paragraph", long_line),
    ]  # fmt: skip
    assert ("paragraph", "Codename:  \nPelican") in kinds(notes + "Short.")


def test_a_fence_opens_only_where_a_matching_fence_closes_it() -> None:
    # Asked of each line alone: "```" on line 3 would open too, were it not closing line 0's fence.
    fences = Fences(["```python", "x = 1", "~~~", "```", "```text", "````", "``` a ```"])
    assert [fences.opened_at(n) for n in range(7)] == ["```", None, None, "```", "```", None, None]
    assert closes("````", "```") and not closes("```", "````") and not closes("~~~", "```")
