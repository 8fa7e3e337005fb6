"""The HTTP API (Litestar): ``create_app()`` builds it from the settings and one plugin.

What the app does is wired by ``rag.http.plugin.RagPlugin``; errors are problem details
(``rag.http.problems``); the engine it serves is owned by ``rag.engine.live.LiveEngine``, which
loads it in the app's lifespan and swaps every change in atomically (requests in flight finish
on the engine they started with).
"""

from __future__ import annotations

from litestar import Litestar

from rag.config import Settings, load_settings
from rag.engine.live import EngineFactory, LiveEngine, Rebuilder, rebuild_from_seeds
from rag.engine.service import QAService
from rag.http.plugin import RagPlugin
from rag.http.problems import problem_details


def create_app(
    settings: Settings | None = None,
    service_factory: EngineFactory = QAService.open,
    rebuild: Rebuilder = rebuild_from_seeds,
) -> Litestar:
    live = LiveEngine(settings or load_settings(), service_factory, rebuild)
    return Litestar(
        plugins=[RagPlugin(live), problem_details()],
        # Here, not in the plugin: Litestar 2.x reads this argument, not the plugin-modified config.
        request_max_body_size=live.settings.server.max_body_bytes,
        logging_config=None,  # log through the host's configuration (CLI, uvicorn); never reconfigure the root logger
    )
