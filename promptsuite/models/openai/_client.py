"""The ``openai`` client of an endpoint, and one attempt through it, on either side.

The provider makes an attempt here in the pytest process when no helper runs; the helper's
child (:mod:`promptsuite.models.openai._child`) makes the attempts it is handed the same way.
Either way the result is an :class:`AttemptReport`, which crosses the helper's pipe as JSON,
so the provider classifies and parses the same facts wherever the request was made.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from promptsuite.errors import MissingDependency, ModelError

if TYPE_CHECKING:
    import openai

__all__ = ["AttemptKind", "AttemptReport", "http_client", "new_client", "post_once"]

_PLACEHOLDER_KEY = "not-needed"

AttemptKind = Literal["ok", "timeout", "connection", "too_large", "status", "error"]


@dataclass(frozen=True)
class AttemptReport:
    """What one attempt of a request came to.

    Attributes:
        kind: ``ok``; ``timeout``; ``connection`` (reason in ``detail``); ``too_large`` (the
            lean transport refused a response body over its cap, named in ``detail``);
            ``status`` (an HTTP error: ``status``, ``headers``, ``body``); or ``error``
            (``detail`` is the message of a promptsuite error in the helper, such as a
            missing key; ``error_type`` its class).
        content: The response body (``ok``).
        latency_s: Wall time of the attempt (``ok``).
    """

    kind: AttemptKind
    content: bytes = b""
    latency_s: float = 0.0
    detail: str = ""
    status: int = 0
    headers: Mapping[str, str] | None = None
    body: object = None
    error_type: str = ""

    def to_json(self) -> dict[str, Any]:
        """The report as the helper's answer line, without ``content`` (sent raw after it)."""
        body = self.body if _jsonable(self.body) else str(self.body)
        return {
            "kind": self.kind,
            "latency": self.latency_s,
            "detail": self.detail,
            "status": self.status,
            "headers": dict(self.headers) if self.headers is not None else None,
            "body": body,
            "error_type": self.error_type,
        }

    @classmethod
    def from_json(cls, answer: Mapping[str, Any], content: bytes) -> AttemptReport:
        """Read :meth:`to_json`'s form, with the raw body that followed it."""
        return cls(
            kind=answer["kind"],
            content=content,
            latency_s=float(answer.get("latency", 0.0)),
            detail=str(answer.get("detail", "")),
            status=int(answer.get("status", 0)),
            headers=answer.get("headers"),
            body=answer.get("body"),
            error_type=str(answer.get("error_type", "")),
        )


async def post_once(
    client: openai.AsyncOpenAI, timeout: float, path: str, body: Mapping[str, Any]
) -> AttemptReport:
    """One attempt of ``POST path`` through ``client``, ``timeout`` seconds at most."""
    import openai

    from promptsuite.models.openai._transport import ResponseTooLarge

    started = time.perf_counter()
    try:
        # The SDK's own timeout bounds each read; this one bounds the whole attempt, so a
        # server dripping bytes slowly cannot hold a test forever.
        async with asyncio.timeout(timeout):
            # The SDK's generic ``post`` skips its typed-parameter transform, which costs
            # more per request than the whole HTTP exchange with a local server.
            content = await client.post(path, cast_to=bytes, body=body)
    except (TimeoutError, openai.APITimeoutError):
        return AttemptReport("timeout")
    except openai.APIConnectionError as err:
        cause = err.__cause__
        if isinstance(cause, ResponseTooLarge):
            return AttemptReport("too_large", detail=str(cause))
        reason = f"{type(cause).__name__}: {cause}" if cause else str(err)
        return AttemptReport("connection", detail=reason)
    except openai.APIStatusError as err:
        headers = dict(err.response.headers)
        return AttemptReport("status", status=err.status_code, headers=headers, body=err.body)
    return AttemptReport("ok", content=content, latency_s=time.perf_counter() - started)


def new_client(
    base_url: str,
    api_key_env: str,
    key_required: bool,
    timeout: float,
    transport: str,
    environ: Mapping[str, str] | None = None,
) -> openai.AsyncOpenAI:
    """The ``openai`` client of an endpoint, with the key read from ``api_key_env`` now
    (in ``environ``, by default the process's environment).

    Raises:
        MissingDependency: The ``openai`` package is not installed.
        ModelError: The endpoint needs a key and the variable is not set.
    """
    try:
        import openai
    except ImportError as err:
        raise MissingDependency("the openai client", "pip install openai") from err
    key = (os.environ if environ is None else environ).get(api_key_env, "").strip()
    if not key:
        if key_required:
            raise ModelError(
                f"{api_key_env} is not set; export it, or name another variable "
                f"with the model option 'api_key_env' ({base_url})"
            )
        key = _PLACEHOLDER_KEY
    return openai.AsyncOpenAI(
        api_key=key,
        base_url=base_url,
        timeout=timeout,
        max_retries=0,
        http_client=http_client(base_url, timeout, transport),
    )


def http_client(base_url: str, timeout: float, transport: str) -> Any:
    """The HTTP client under the ``openai`` one: the lean transport for ``http://``
    endpoints (local servers), no exchange longer than ``timeout``; the SDK's default
    (None) for ``https://``."""
    if urlsplit(base_url).scheme != "http" or transport == "httpx":
        return None
    from promptsuite.models.openai._transport import LeanTransport, httpx

    lean = LeanTransport(deadline_s=timeout)
    return httpx.AsyncClient(transport=lean, timeout=timeout, follow_redirects=True)


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
