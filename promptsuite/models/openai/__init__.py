"""The ``openai`` provider and its fast path, one room.

- :mod:`~promptsuite.models.openai.provider`: ``OpenAIProvider`` (retries, error
  classification, parsing), registered as ``openai`` and imported on first use;
- ``_client``: the ``openai`` client of an endpoint and one attempt through it, reported as
  an ``AttemptReport`` wherever it was made;
- ``_transport``: a lean HTTP/1.1 transport under the ``openai`` client for ``http://``
  endpoints, with a body size cap, every timeout honoured, and no request sent twice;
- ``_helper`` (:data:`call_helper`), ``_process`` and ``_child``: the helper process that
  makes the provider's HTTP calls during a pytest run, so that importing the client and its
  CPU per request use another core;
- ``_guess``: whether the raw command line lets the plugin start the helper when pytest
  imports it.

Importing this package loads neither ``openai``, ``httpx`` nor ``asyncio``.
"""

from promptsuite.models.openai._guess import (
    CACHE_MODES_STARTING_AT_ONCE,
    command_line_starts_helper,
)
from promptsuite.models.openai._helper import CallHelper, call_helper

__all__ = [
    "CACHE_MODES_STARTING_AT_ONCE",
    "CallHelper",
    "call_helper",
    "command_line_starts_helper",
]
