"""Code the suite names: inline Python, ``file://path.py:function`` or ``module:function``.

One loader for the ``python`` check and for ``transform`` (see :mod:`promptsuite.checks._code`
for what each receives and returns), so both accept and refuse the same spellings.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import json
import math
import re
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from promptsuite._imports import is_reference, load_reference
from promptsuite.errors import CheckError
from promptsuite.models import Message

FILE_PREFIX = "file://"
_FUNCTIONS: dict[tuple[Path, str, str], Callable[..., Any]] = {}
_INLINE_GLOBALS = {"json": json, "math": math, "re": re}


def code_problem(code: object, what: str) -> str | None:
    """What is wrong with ``code`` as a check or transform names it, or None.

    Inline code is parsed (never run); files and modules are not opened at load time.
    """
    if not isinstance(code, str) or not code.strip():
        return f"{what} needs code: an expression, 'file://path.py[:function]' or 'module:function'"
    if code.startswith(FILE_PREFIX) or is_reference(code):
        return None
    try:
        _compile_inline(code)
    except SyntaxError as err:
        return (
            f"{what} code does not parse: {err.msg} (line {err.lineno}); expected a Python"
            " expression of output, a body with return, 'file://path.py[:function]' or"
            " 'module:function'"
        )
    return None


def load_code(code: str, suite_dir: Path, default_function: str) -> Callable[..., Any]:
    """The callable ``code`` names, as ``fn(output, context)``; loaded once per suite folder.

    Raises:
        CheckError: The code does not parse, the file or module cannot be imported, or it
            has no such function.
    """
    key = (suite_dir, default_function, code)
    function = _FUNCTIONS.get(key)
    if function is None:
        function = _FUNCTIONS[key] = _load(code, suite_dir, default_function)
    return function


async def call_code(code: str, function: Callable[..., Any], *args: Any) -> Any:
    """Call user code, awaiting it when async.

    Raises:
        CheckError: It raised.
    """
    try:
        result = function(*args)
        if inspect.isawaitable(result):
            result = await result
    except CheckError:
        raise
    except Exception as err:  # user code: report any failure as an evaluation error
        raise CheckError(
            f"{shown(code)} raised {type(err).__name__}: {' '.join(str(err).split())}"
        ) from err
    return result


def shown(code: str) -> str:
    """Code as an error message names it."""
    return f"python code {_one_line(code)}"


def _load(code: str, suite_dir: Path, default_function: str) -> Callable[..., Any]:
    if code.startswith(FILE_PREFIX):
        return _from_file(code, suite_dir, default_function)
    if is_reference(code):
        return _import(code, suite_dir)
    try:
        compiled = _compile_inline(code)
    except SyntaxError as err:
        raise CheckError(f"{shown(code)} does not parse: {err.msg}") from err
    return compiled


def _compile_inline(code: str) -> Callable[..., Any]:
    text = textwrap.dedent(code).strip("\n")
    tree = ast.parse(text)
    if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
        expression = compile(ast.Expression(tree.body[0].value), "<inline>", "eval")

        def evaluate(output: str, context: dict[str, Any]) -> Any:
            return eval(expression, dict(_INLINE_GLOBALS), {"output": output, "context": context})

        return evaluate
    body = textwrap.indent(text, "    ")
    source = f"def __promptsuite_inline(output, context):\n{body}\n"
    namespace: dict[str, Any] = dict(_INLINE_GLOBALS)
    exec(compile(source, "<inline>", "exec"), namespace)
    function: Callable[..., Any] = namespace["__promptsuite_inline"]
    return function


def _from_file(code: str, suite_dir: Path, default_function: str) -> Callable[..., Any]:
    target = code[len(FILE_PREFIX) :]
    path_text, _, name = target.rpartition(":") if target.count(":") else (target, "", "")
    if not path_text or not path_text.endswith(".py"):
        path_text, name = target, ""
    name = name or default_function
    path = (suite_dir / path_text).resolve()
    if not path.is_file():
        raise CheckError(f"{code!r}: no Python file at {path}")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    module_name = f"_promptsuite_file_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise CheckError(f"{code!r}: cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # importing runs user code: any error means "cannot import"
        raise CheckError(f"{code!r}: importing {path} raised {type(err).__name__}: {err}") from err
    function = getattr(module, name, None)
    if not callable(function):
        raise CheckError(f"{code!r}: {path.name} has no function {name!r}")
    return function  # type: ignore[no-any-return]


def _import(ref: str, suite_dir: Path) -> Callable[..., Any]:
    module_name, _, attr = ref.partition(":")
    _refuse_shadowed_module(module_name, suite_dir)
    try:
        function = load_reference(ref, search=suite_dir)
    except Exception as err:  # importing runs user code: any error means "cannot import"
        raise CheckError(
            f"python check {ref!r}: cannot import {module_name!r} from {suite_dir} or"
            f" sys.path: {type(err).__name__}: {err}"
        ) from err
    if not callable(function):
        raise CheckError(f"python check {ref!r}: {module_name} has no function {attr!r}")
    return function  # type: ignore[no-any-return]


def _refuse_shadowed_module(module_name: str, suite_dir: Path) -> None:
    """Refuse to call a same-named module another suite directory already imported."""
    top = module_name.split(".")[0]
    loaded = sys.modules.get(top)
    loaded_file = getattr(loaded, "__file__", None)
    local = suite_dir / f"{top}.py", suite_dir / top / "__init__.py"
    if loaded_file is None or not any(p.exists() for p in local):
        return
    if Path(loaded_file).resolve() not in {p.resolve() for p in local}:
        raise CheckError(
            f"python module {top!r} is already imported from {loaded_file}, so"
            f" {suite_dir / top} cannot be; give one of them another name"
        )


def _one_line(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def last_user_message(messages: Sequence[Message]) -> str:
    """The prompt as promptfoo's scripts see it: the last user message."""
    users = [m.content for m in messages if m.role == "user"]
    return users[-1] if users else ""


async def apply_transform(
    code: str, output: str, suite_dir: Path, vars: Mapping[str, Any], messages: Sequence[Message]
) -> str:
    """The output rewritten by a ``transform``; a non-string result becomes its JSON.

    Raises:
        CheckError: The code cannot be loaded, raises, or returns None.
    """
    function = load_code(code, suite_dir, "get_transform")
    context = {"vars": dict(vars), "prompt": last_user_message(messages)}
    result = await call_code(code, function, output, context)
    if result is None:
        raise CheckError(f"transform {_one_line(code)} returned None")
    if isinstance(result, str):
        return result
    try:
        return json.dumps(result, ensure_ascii=False)
    except (TypeError, ValueError) as err:
        raise CheckError(
            f"transform {_one_line(code)} returned {type(result).__name__},"
            " which is neither text nor JSON"
        ) from err


def transform_problems(code: str) -> Iterator[str]:
    """What is wrong with a ``transform`` as written, without running it."""
    problem = code_problem(code, "transform")
    if problem:
        yield problem
