"""Retrieval-augmented question answering with verifiable, character-exact citations.

Packages, from the bottom up (imports only point down): ``records``, ``errors``, ``config`` and
``durable``; ``text`` and ``documents``; ``embedding``; ``index``; ``retrieval`` and
``answering``; ``engine`` (the service, document changes, and ``live.LiveEngine``, the one owner
of the engine that serves); ``eval``; and on top ``http`` and ``cli``. The README has the map.
"""

__version__ = "0.1.0"
