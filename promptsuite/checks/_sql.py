"""SQL checks: the output is (or contains) valid SQL, optionally within an allow-list.

Parsing is sqlglot's (pure Python, imported only when a SQL check runs), in the dialect
``value.databaseType`` names (MySQL by default, as in promptfoo).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from promptsuite._schema import CheckSpec
from promptsuite.checks._common import quote
from promptsuite.checks._registry import CheckContext, Finding, Problem, check, has_value
from promptsuite.errors import CheckError, MissingDependency

# promptfoo's (node-sql-parser's) database names -> sqlglot's dialects.
_DIALECTS = {
    "athena": "athena",
    "bigquery": "bigquery",
    "db2": "postgres",
    "flinksql": "spark",
    "hive": "hive",
    "mariadb": "mysql",
    "mysql": "mysql",
    "noql": "mysql",
    "postgresql": "postgres",
    "postgres": "postgres",
    "redshift": "redshift",
    "snowflake": "snowflake",
    "sqlite": "sqlite",
    "transactsql": "tsql",
    "tsql": "tsql",
}
_OPTIONS = frozenset({"databaseType", "allowedTables", "allowedColumns"})
_FENCE = re.compile(r"```[ \t]*(?:sql)?[ \t]*\r?\n(.*?)```", re.S | re.I)


def _options(spec: CheckSpec) -> dict[str, Any]:
    value = spec.value if has_value(spec) else None
    if value is None:
        return {}
    if not isinstance(value, dict) or not set(value) <= _OPTIONS:
        raise CheckError(
            f"{spec.type} value must be a mapping of {', '.join(sorted(_OPTIONS))}, got {value!r}"
        )
    database = value.get("databaseType", "MySQL")
    if not isinstance(database, str) or database.lower() not in _DIALECTS:
        known = ", ".join(sorted(_DIALECTS))
        raise CheckError(f"{spec.type} databaseType {database!r} is not one of: {known}")
    for key in ("allowedTables", "allowedColumns"):
        rules = value.get(key)
        if rules is not None and (
            not isinstance(rules, list) or not all(isinstance(r, str) for r in rules)
        ):
            raise CheckError(f"{spec.type} {key} must be a list of strings")
    return dict(value)


def _need_options(spec: CheckSpec) -> Iterator[Problem]:
    try:
        _options(spec)
    except CheckError as err:
        yield "value", str(err)


def _sqlglot() -> Any:
    try:
        import sqlglot
    except ImportError as err:
        raise MissingDependency(
            "sqlglot (for SQL checks)", 'pip install "promptsuite[sql]"'
        ) from err
    return sqlglot


def _statements(sql: str, dialect: str) -> tuple[list[Any], str]:
    """``(statements, "")`` when ``sql`` is valid SQL, else ``([], why)``."""
    sqlglot = _sqlglot()
    from sqlglot import expressions as exp

    if not sql.strip():
        return [], "it is empty"
    try:
        parsed = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except sqlglot.errors.SqlglotError as err:
        return [], str(err).splitlines()[0]
    kinds = (exp.Query, exp.DML, exp.DDL, exp.Command, exp.Transaction, exp.Use, exp.Set)
    if not parsed:
        return [], "no statement in it"
    for statement in parsed:
        if not isinstance(statement, kinds):
            return [], f"{quote(statement.sql(), 40)} is not a statement"
    return parsed, ""


def _action(statement: Any) -> str:
    name = type(statement).__name__.lower()
    return {"union": "select", "intersect": "select", "except": "select"}.get(name, name)


def _used(statement: Any) -> tuple[list[str], list[str]]:
    """The tables (``action::db::table``) and columns (``action::table::column``, table
    ``null`` when unqualified, ``(.*)`` for all of them) a statement uses."""
    from sqlglot import expressions as exp

    action = _action(statement)
    tables = [f"{action}::{t.db or 'null'}::{t.name}" for t in statement.find_all(exp.Table)]
    columns = [f"{action}::{c.table or 'null'}::{c.name}" for c in statement.find_all(exp.Column)]
    every_column = any(True for _ in statement.find_all(exp.Star)) or isinstance(
        statement, exp.Delete
    )
    if isinstance(statement, exp.Insert) and not isinstance(statement.this, exp.Schema):
        every_column = True
    if every_column:
        columns.append(f"{action}::null::(.*)")
    return tables, columns


def _authority(statements: list[Any], options: dict[str, Any]) -> str:
    """The first use of a table or column the allow-lists do not permit, or ""."""
    for statement in statements:
        tables, columns = _used(statement)
        for kind, used, rules in (
            ("table", tables, options.get("allowedTables")),
            ("column", columns, options.get("allowedColumns")),
        ):
            if rules is None:
                continue
            for name in used:
                if not any(_allows(rule, name) for rule in rules):
                    return f"{kind} {name} is not allowed"
    return ""


def _allows(rule: str, name: str) -> bool:
    if rule == name:
        return True
    try:
        return re.fullmatch(rule, name, re.I) is not None
    except re.error:
        return False


def _sql_finding(spec: CheckSpec, sql: str, expected: str) -> Finding:
    options = _options(spec)
    dialect = _DIALECTS[str(options.get("databaseType", "MySQL")).lower()]
    statements, why = _statements(sql, dialect)
    if why:
        return Finding.of(False, expected, f"not valid SQL ({why}): {quote(sql)}")
    refused = _authority(statements, options)
    if refused:
        return Finding.of(False, expected, refused)
    return Finding.of(True, expected, f"{len(statements)} valid statement(s)")


def _expected(spec: CheckSpec, verb: str) -> str:
    options = _options(spec)
    return f"{verb} valid {options.get('databaseType', 'MySQL')} SQL"


@check("is-sql", "value", validate=_need_options)
def is_sql(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The whole output is valid SQL (``value.databaseType``, default MySQL), using only the
    tables and columns ``allowedTables`` / ``allowedColumns`` permit (``action::db::table``
    and ``action::table::column`` regular expressions)."""
    return _sql_finding(spec, ctx.output, _expected(spec, "be"))


@check("contains-sql", "value", validate=_need_options)
def contains_sql(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The output is valid SQL or has a fenced code block of valid SQL (options as for
    ``is-sql``)."""
    expected = _expected(spec, "contain")
    blocks = [m.group(1) for m in _FENCE.finditer(ctx.output)] or [ctx.output]
    first: Finding | None = None
    for block in blocks:
        finding = _sql_finding(spec, block, expected)
        if finding.passed:
            return finding
        first = first or finding
    assert first is not None
    return first
