"""The rag pytest plugin (entry point ``pytest11: rag``): answer accuracy as ordinary test results.

    pytest --rag-gold gold.jsonl --rag-seeds seeds [--rag-config rag.toml] [--rag-baseline base.json]

* every gold question is a test item named by its id (``gold.jsonl::q07``), failing with the
  question, the expected answers and evidence spans, the answer given and its citations;
* every set-level threshold of ``[tool.rag.eval]`` (``rag.eval.thresholds``) in the
  rootdir's ``pyproject.toml``, or of ``--rag-threshold NAME=VALUE``, is an item of its own
  (``gold.jsonl::threshold:min_f1``);
* with ``--rag-baseline FILE``, an item ``baseline`` fails when a question got worse since the
  baseline (``rag.eval.baseline``); the terminal summary lists what got worse or better;
* fixtures ``rag_service`` (one engine for the session, over a temporary index) and
  ``rag_ask``; assertions in ``rag.eval.assertions``; hook ``pytest_rag_embedder``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rag.eval import hookspecs
from rag.eval.thresholds import EvalSettings, ThresholdError, eval_settings, from_pyproject, parse_flag

if TYPE_CHECKING:  # the engine's imports (faiss, bm25s, ...) wait until a session asks for it
    from rag.config import Settings
    from rag.embedding.base import Embedder
    from rag.engine.service import QAService
    from rag.eval.checks import Checked
    from rag.eval.gold import GoldLine
    from rag.eval.session import RagSession
    from rag.records import Answer

SESSION: pytest.StashKey[RagSession] = pytest.StashKey()
CHANGES = pytest.StashKey[list[str]]()
EVALUATION: pytest.StashKey[EvalSettings] = pytest.StashKey()


class QuestionMissed(Exception):
    def __init__(self, checked: Checked) -> None:
        super().__init__(checked.item.id)
        self.checked = checked


class ReportedFailure(Exception):
    """A failure whose message is the whole report (no traceback is useful)."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rag", "answer accuracy over a gold question set (rag)")
    group.addoption("--rag-gold", metavar="FILE", type=Path, help="Gold questions (JSONL): one test item each.")
    group.addoption("--rag-seeds", metavar="DIR", type=Path, help="Documents to index (default: [paths] seeds).")
    group.addoption("--rag-config", metavar="FILE", type=Path, help="rag settings (default: config/rag.toml).")
    group.addoption("--rag-baseline", metavar="FILE", type=Path, help="Fail on questions worse than this baseline.")
    group.addoption("--rag-save-baseline", metavar="FILE", type=Path, help="Save every question's outcome here.")
    group.addoption(
        "--rag-threshold",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="A set-level threshold, e.g. min_f1=0.5 (overrides [tool.rag.eval]).",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Check the thresholds now (a typo is a usage error); the engine waits until something needs it."""
    try:
        table = from_pyproject(config.rootpath / "pyproject.toml")
        table.update(parse_flag(flag) for flag in config.getoption("rag_threshold"))
        config.stash[EVALUATION] = eval_settings(table, "[tool.rag.eval] and --rag-threshold")
    except ThresholdError as error:
        raise pytest.UsageError(str(error)) from error


def rag_session(config: pytest.Config) -> RagSession:
    """The session's shared state, made on first use: a run without --rag-gold and without the
    fixtures never imports the engine (faiss, bm25s, the model)."""
    if SESSION not in config.stash:
        from rag.eval.session import RagSession as Session

        def embedder_hook(settings: Settings) -> Embedder | None:
            chosen: Embedder | None = config.hook.pytest_rag_embedder(config=config, settings=settings)
            return chosen

        config.stash[SESSION] = Session(
            config.getoption("rag_config"),
            config.getoption("rag_seeds"),
            config.getoption("rag_gold"),
            config.stash[EVALUATION],
            embedder_hook,
        )
    return config.stash[SESSION]


def pytest_unconfigure(config: pytest.Config) -> None:
    if SESSION in config.stash:
        config.stash[SESSION].close()


# -- collection ------------------------------------------------------------------------------


class GoldFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        session = rag_session(self.config)
        lines = self.path.read_text(encoding="utf-8").splitlines()
        numbers = [number for number, line in enumerate(lines, 1) if line.strip()]  # as read_gold skips blanks
        for gold, number in zip(session.gold(), numbers, strict=True):
            yield GoldQuestion.from_parent(self, name=gold.id, gold=gold, line=number)
        for name in session.evaluation.thresholds:
            yield ThresholdItem.from_parent(self, name=f"threshold:{name}", threshold=name)
        if self.config.getoption("rag_baseline"):
            yield BaselineItem.from_parent(self, name="baseline")


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselect, so they apply to gold items too
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    gold_file = config.getoption("rag_gold")
    if gold_file is None:
        return
    from rag.eval.gold import GoldFileError

    if not gold_file.is_file():
        raise pytest.UsageError(f"--rag-gold {gold_file}: no such file")
    try:
        items.extend(GoldFile.from_parent(session, path=gold_file.resolve()).collect())
    except GoldFileError as error:
        raise pytest.UsageError(f"--rag-gold: {error}") from error


class RagItem(pytest.Item):
    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, QuestionMissed):
            from rag.eval.checks import explain

            return explain(excinfo.value.checked)
        if isinstance(excinfo.value, ReportedFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"rag {self.name}"


class GoldQuestion(RagItem):
    def __init__(self, *, gold: GoldLine, line: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gold = gold
        self.line = line

    def runtest(self) -> None:
        checked = rag_session(self.config).check(self.gold)
        if not checked.passed:
            raise QuestionMissed(checked)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.line - 1, f"gold question {self.name}: {self.gold.question}"


class ThresholdItem(RagItem):
    def __init__(self, *, threshold: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threshold = threshold

    def runtest(self) -> None:
        session = rag_session(self.config)
        result = next(r for r in session.thresholds() if r.name == self.threshold)
        if not result.passed:
            missed = [c.item.id for c in session.check_all() if not c.passed]
            shown = ", ".join(missed[:20]) + (" …" if len(missed) > 20 else "")
            raise ReportedFailure(f"{result.describe()}\nquestions missed ({len(missed)}): {shown or 'none'}")


class BaselineItem(RagItem):
    def runtest(self) -> None:
        from rag.eval.baseline import compare, describe_changes, load_baseline, make_baseline, regressions

        session = rag_session(self.config)
        before = load_baseline(self.config.getoption("rag_baseline"))
        changes = compare(before, make_baseline(session.check_all()), session.evaluation.baseline_tolerance)
        self.config.stash[CHANGES] = describe_changes(changes, before)
        worse = regressions(changes)
        if worse:
            lines = describe_changes(worse, before)
            raise ReportedFailure(f"{len(worse)} question(s) worse than the baseline:\n" + "\n".join(lines[:-1]))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if CHANGES in config.stash:
        terminalreporter.section("rag: changes since the baseline")
        for line in config.stash[CHANGES]:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = session.config.getoption("rag_save_baseline", None)
    if target and session.config.getoption("rag_gold") is not None:
        state = rag_session(session.config)
        from rag.eval.baseline import make_baseline, save_baseline

        save_baseline(target, make_baseline(state.check_all()))


# -- fixtures for hand-written tests -----------------------------------------------------------


@pytest.fixture(scope="session")
def rag_service(pytestconfig: pytest.Config) -> QAService:
    """The engine over ``--rag-seeds`` (or ``[paths] seeds``), built once per session."""
    return rag_session(pytestconfig).service()


@pytest.fixture
def rag_ask(rag_service: QAService) -> Callable[..., Answer]:
    """``rag_ask(question, top_k=None)``: the engine's answer, as ``POST /ask`` gives it."""

    def ask(question: str, top_k: int | None = None) -> Answer:
        return rag_service.ask(question, top_k)

    return ask
