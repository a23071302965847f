"""The process's model-call helper: when it starts, which event loop uses it, when it stops.

One :class:`CallHelper` (:data:`call_helper`) owns the helper process of this Python
process (:class:`~promptsuite.models.openai._process.CallProcess`, at most one at a time).
The run's session starts it (at once when every job calls the model, or at the first
request when the response cache may answer), binds it to the run's event loop and stops it
at the end; the pytest plugin may start it earlier, from the raw command line. The openai
provider asks it, for each attempt, for the helper to send the request to.

Importing this module is cheap (no ``asyncio``, ``subprocess`` or ``openai``): the plugin
uses it before pytest has parsed its options.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING

from promptsuite.models.openai._guess import command_line_starts_helper

if TYPE_CHECKING:
    import asyncio
    import subprocess

    from promptsuite.models.openai._process import CallProcess

__all__ = ["CallHelper", "call_helper"]


class CallHelper:
    """Starts, binds and stops this process's model-call helper.

    Only the event loop it is bound to (the run's) sends the helper requests; a request
    from any other loop (a test's, a second run's) runs in this process.

    Attributes:
        ready_timeout_s: How long a request waits for a starting helper before it runs in
            this process instead.
    """

    def __init__(self, ready_timeout_s: float = 30.0) -> None:
        self.ready_timeout_s = ready_timeout_s
        self._process: CallProcess | None = None
        # A loop allowed to start the helper with its first request (start_on_demand).
        self._on_demand: asyncio.AbstractEventLoop | None = None
        self._armed = False
        self._guessed = False

    @property
    def process(self) -> CallProcess | None:
        """The running helper, if one was started and not stopped."""
        return self._process

    def start(self) -> CallProcess | None:
        """Start the helper now (once); None when it could not start."""
        if self._process is None:
            child = _spawn()
            if child is not None:
                # After the spawn: importing asyncio (~20 ms) need not delay the child.
                from promptsuite.models.openai._process import CallProcess

                self._process = CallProcess(*child)
        return self._process

    def start_from_command_line(
        self,
        argv: Sequence[str],
        environ: Mapping[str, str],
        names_suites: Callable[[Iterable[str]], bool],
    ) -> None:
        """Start the helper now when the raw command line says the run will start it at
        once (:func:`~promptsuite.models.openai.command_line_starts_helper`): the plugin's
        guess at import, which :meth:`take_guess` hands to the first hook that sees the
        parsed options."""
        if command_line_starts_helper(argv, environ, names_suites):
            self._guessed = self.start() is not None

    def take_guess(self) -> bool:
        """True once, for the first configuration after :meth:`start_from_command_line`
        started the helper: it must confirm the helper or stop it."""
        guessed, self._guessed = self._guessed, False
        return guessed

    def start_on_demand(self) -> None:
        """Start the helper only when the run's loop makes its first request (a run whose
        answers all come from the response cache then never starts it)."""
        self._armed = True

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Let the helper take requests from ``loop`` (the run's loop): the running one, or
        the one :meth:`start_on_demand` starts."""
        if self._process is not None:
            self._process.bind(loop)
        elif self._armed:
            self._on_demand = loop

    async def ready(self) -> CallProcess | None:
        """The helper to send the running loop's request to, once it is ready.

        While the helper imports the client the request waits for it: importing the client
        in this process too would take as long and hold the interpreter lock the run's
        other work needs. None when there is no helper for this loop, it died, or it was
        not ready within :attr:`ready_timeout_s` (then the request runs in this process).
        """
        process = self._started_here()
        if process is None or not process.waitable():
            return None
        if not process.usable() and not await process.wait_ready(self.ready_timeout_s):
            return None
        return process

    def _started_here(self) -> CallProcess | None:
        """The helper, started now if the running loop armed a start on demand."""
        if self._process is None and self._on_demand is not None:
            import asyncio

            loop, self._on_demand = self._on_demand, None
            self._armed = False
            if loop is asyncio.get_running_loop() and self.start() is not None:
                self.bind(loop)
        return self._process

    async def astop(self) -> None:
        """Stop the helper from the loop that used it (or any loop, if none did)."""
        import asyncio

        process = self._process
        if process is not None and process.attached_to(asyncio.get_running_loop()):
            self._process = None
            await process.aclose()

    def stop(self) -> None:
        """Stop the helper, if one runs (and forget a start on demand)."""
        self._on_demand, self._armed = None, False
        process, self._process = self._process, None
        if process is not None:
            process.close()


def _spawn() -> tuple[subprocess.Popen[bytes], IO[bytes]] | None:
    """Launch the helper's child, its stderr kept in a temporary file; None if it could
    not be launched."""
    import subprocess
    import sys
    import tempfile

    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - CallProcess closes it
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "promptsuite.models.openai._child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    except OSError:
        stderr.close()
        return None
    return child, stderr


#: The model-call helper of this process.
call_helper = CallHelper()
