"""What one pytest session shares: the settings, one engine over the seeds, and each question's result.

The engine is built on first use into a temporary index folder (removed at the end of the
session), so a run never touches the project's ``index/``. The ONNX model export is cached
in the configured index folder (``[paths] index``), where ``rag serve`` keeps it too, so it
happens once per machine rather than once per run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import msgspec

from rag.config import Settings, load_settings
from rag.embedding.base import Embedder
from rag.embedding.registry import create_embedder
from rag.engine.service import QAService
from rag.eval.checks import Checked, check_question
from rag.eval.gold import GoldLine, read_gold
from rag.eval.metrics import figures
from rag.eval.thresholds import EvalSettings, ThresholdResult, check


class RagSession:
    def __init__(
        self,
        config_file: Path | None,
        seeds: Path | None,
        gold_file: Path | None,
        evaluation: EvalSettings,
        embedder_hook: Callable[[Settings], Embedder | None],
    ) -> None:
        self.config_file = config_file
        self.seeds = seeds
        self.gold_file = gold_file
        self.evaluation = evaluation
        self.embedder_hook = embedder_hook
        self.results: dict[str, Checked] = {}
        self._gold: list[GoldLine] | None = None
        self._service: QAService | None = None
        self._index: tempfile.TemporaryDirectory[str] | None = None

    def settings(self) -> Settings:
        settings = load_settings(self.config_file)
        seeds = str(self.seeds) if self.seeds else settings.paths.seeds
        if not Path(seeds).is_dir():
            raise FileNotFoundError(f"the seeds folder {seeds} does not exist (give it with --rag-seeds DIR)")
        return msgspec.structs.replace(settings, paths=msgspec.structs.replace(settings.paths, seeds=seeds))

    def gold(self) -> list[GoldLine]:
        if self._gold is None:
            if self.gold_file is None:
                raise RuntimeError("no gold file: pass --rag-gold FILE")
            self._gold = read_gold(self.gold_file)
        return self._gold

    def service(self) -> QAService:
        if self._service is None:
            settings = self.settings()
            embedder = self.embedder_hook(settings) or create_embedder(
                settings.embedding.model,
                settings.embedding.backend,
                settings.embedding.batch_size,
                settings.paths.index,  # the model export's cache, shared with `rag serve`
            )
            self._index = tempfile.TemporaryDirectory(prefix="rag-pytest-index-")
            paths = msgspec.structs.replace(settings.paths, index=self._index.name)
            self._service = QAService.open(msgspec.structs.replace(settings, paths=paths), embedder=embedder)
        return self._service

    def check(self, item: GoldLine) -> Checked:
        if item.id not in self.results:
            self.results[item.id] = check_question(self.service(), item, self.evaluation.question_f1)
        return self.results[item.id]

    def check_all(self) -> list[Checked]:
        return [self.check(item) for item in self.gold()]

    def thresholds(self) -> list[ThresholdResult]:
        return check(self.evaluation, figures([c.outcome for c in self.check_all()]))

    def close(self) -> None:
        self._service = None
        if self._index is not None:
            self._index.cleanup()
            self._index = None
