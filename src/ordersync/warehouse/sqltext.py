"""SQL text handling left to sqlparse's lexer: placeholders and statement boundaries.

Hand-written rewrites break on a `?`, `%` or `;` inside a string literal, a quoted name, a comment
or a `$$` body; the lexer knows where those end.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import sqlparse
from sqlparse import tokens as T
from sqlparse.lexer import tokenize


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """Internal SQL's `?` placeholders as psycopg's `%s`, every other `%` doubled.

    Only for statements run with parameters: psycopg reads `%` anywhere in the text then, literals
    included, and leaves the text alone when there are none."""
    out: list[str] = []
    tokens: Iterable[tuple[Any, str]] = tokenize(sql)  # type: ignore[no-untyped-call]
    for ttype, value in tokens:
        if ttype is T.Name.Placeholder and value == "?":
            out.append("%s")
        else:
            out.append(value.replace("%", "%%"))
    return "".join(out)


def split_statements(sql: str) -> list[str]:
    """The statements of a script (a migration file), each as written; comment-only and empty
    statements dropped."""
    out: list[str] = []
    for statement in sqlparse.split(sql):
        bare = sqlparse.format(statement, strip_comments=True).strip().rstrip(";").strip()
        if bare:
            out.append(statement.strip())
    return out
