"""Retrieval-augmented question answering with verifiable, character-exact citations.

Modules, from the bottom up: ``records`` (plain data), ``config``, ``textnorm`` and
``sentences`` (offset-preserving text handling), ``documents`` (ingestion), ``chunking``,
``embedding``, ``vectors`` (the ANN backend), ``lexical`` (BM25), ``store`` (the index
directory), ``retrieval``, ``answering``, ``citations``, ``service`` (the engine), ``updates``
(documents added or removed at run time, re-embedding only what changed), and on top ``api``
(HTTP) with ``extensions`` (``web``: the web page; ``manage``: POST/DELETE /documents;
``observability``: metrics, request ids, logs), ``cli`` and ``evaluation``.
"""

__version__ = "0.1.0"
