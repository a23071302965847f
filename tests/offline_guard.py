"""Run a promptsuite command with the network cut off, recording any attempt to use it.

Usage: ``python tests/offline_guard.py ATTEMPTS_FILE promptsuite-args...``. Every socket
connection to a non-loopback address and every name lookup of a non-loopback host fails,
and is written to ATTEMPTS_FILE (one line each) so a test can assert that none was tried,
not merely that the command survived a refusal.
"""

from __future__ import annotations

import atexit
import socket
import sys
from pathlib import Path
from typing import Any

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "", None}
attempts: list[str] = []


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    return host in _LOOPBACK_NAMES or str(host).startswith("127.")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def _guarded(real: Any) -> Any:
    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            attempts.append(f"connect {address!r}")
            raise OSError(f"network blocked by the offline test: {address!r}")
        return real(self, address)

    return connect


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_loopback(host):
        attempts.append(f"getaddrinfo {host!r}")
        raise socket.gaierror(f"name lookup blocked by the offline test: {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


def main() -> int:
    record = Path(sys.argv[1])
    socket.socket.connect = _guarded(_connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded(_connect_ex)  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo
    atexit.register(lambda: record.write_text("".join(a + "\n" for a in attempts), "utf-8"))
    from promptsuite.cli import main as promptsuite_main

    return promptsuite_main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
