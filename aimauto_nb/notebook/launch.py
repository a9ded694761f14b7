"""The one way the notebook layer (and :func:`aimauto_nb.search`) starts a search: from a
validated :class:`~aimauto_nb.core.config.SearchConfig`, with its live view attached."""

from __future__ import annotations

from ..core.config import SearchConfig
from ..core.facade import Search
from .views import attach

__all__ = ["launch"]


def launch(config: SearchConfig, *, display: bool = True) -> Search:
    """Create the search, attach the panel (or text line) when ``display``, and start it."""
    s = Search(config)
    if display:
        attach(s)
    return s.start()
