"""The error tree: every exception class in errors.py, drawn in its docstring, and none elsewhere."""

from __future__ import annotations

import ast
import builtins
import inspect
import re
from pathlib import Path

import ordersync
from ordersync import errors

SRC = Path(ordersync.__file__).parent
# The simulator stands in for VTEX and the SDK: its errors are its own, not ordersync's.
OUTSIDE = {"simulator"}


def _classes() -> dict[str, type[BaseException]]:
    return {
        name: obj
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == errors.__name__
    }


def _drawn() -> dict[str, str | None]:
    """Each class named in the docstring's tree, with its parent (by indentation)."""
    doc = errors.__doc__ or ""
    parents: list[tuple[int, str]] = []
    drawn: dict[str, str | None] = {}
    for line in doc.splitlines():
        m = re.match(r"^([│├└─ ]*)([A-Z]\w+)\s{2,}\S", line)
        if not m:
            continue
        depth, name = len(m.group(1)), m.group(2)
        while parents and parents[-1][0] >= depth:
            parents.pop()
        drawn[name] = parents[-1][1] if parents else None
        parents.append((depth, name))
    return drawn


def test_the_docstring_draws_every_class_with_its_parent() -> None:
    classes = _classes()
    drawn = _drawn()
    assert set(drawn) == set(classes)
    for name, cls in classes.items():
        parent = drawn[name]
        if parent is None:
            assert cls is errors.OrdersyncError
        else:
            # the drawn parent is the first base that is an ordersync error
            assert cls.__bases__[0] is classes[parent], name


def test_every_error_has_a_docstring_and_an_exit_code() -> None:
    for name, cls in _classes().items():
        assert cls.__doc__ and cls.__doc__.strip(), name
        assert issubclass(cls, errors.OrdersyncError)
        assert isinstance(cls.exit_code, int)


def test_no_exception_class_is_defined_outside_errors_py() -> None:
    strays = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] in OUTSIDE or rel == Path("errors.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and _is_exception(node):
                strays.append(f"{rel}:{node.lineno} {node.name}")
    assert strays == []


def _is_exception(node: ast.ClassDef) -> bool:
    """A class whose bases name an Exception subclass: a builtin one, an ordersync error, or any name
    ending in Error or Exception. (BaseException signals, such as the CLI's ForwardToServe, are not
    errors and live where they are used.)"""
    for base in node.bases:
        name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
        if name == "BaseException":
            continue
        builtin = getattr(builtins, name, None)
        if isinstance(builtin, type) and issubclass(builtin, Exception):
            return True
        if name in _classes() or name.endswith(("Error", "Exception")):
            return True
    return False


def test_the_stray_check_sees_what_it_must() -> None:
    tree = ast.parse("class A(ValueError): ...\nclass B(errors.ConfigError): ...\nclass C(BaseException): ...")
    assert [_is_exception(n) for n in tree.body if isinstance(n, ast.ClassDef)] == [True, True, False]
