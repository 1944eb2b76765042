"""Issue 12: modules stay under ~500 lines and functions under ~80, so that each concept keeps a
home a reader can take in. A function's own lines are counted: a route builder's handlers (nested
functions) are functions of their own and are measured as such. Migrations are history and may
be long; so may the declarative tables listed here."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "agent_trace"
MAX_MODULE_LINES = 550
MAX_FUNCTION_LINES = 80
# Declarative on purpose: one argparse declaration per command and option, read top to bottom.
DECLARATIVE = {"cli/main.py:build_parser"}


def _modules() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "migrations" not in p.parts]


def _own_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The function's lines less those of the functions and classes defined inside it."""
    nested = 0
    stack: list[ast.AST] = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            nested += (node.end_lineno or node.lineno) - first + 1
        else:
            stack.extend(ast.iter_child_nodes(node))
    return (fn.end_lineno or fn.lineno) - fn.lineno + 1 - nested


def test_modules_are_small() -> None:
    long = {
        str(p.relative_to(SRC)): n for p in _modules() if (n := p.read_text().count("\n")) > MAX_MODULE_LINES
    }
    assert long == {}


def test_functions_are_small() -> None:
    long: dict[str, int] = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{path.relative_to(SRC)}:{node.name}"
                if name not in DECLARATIVE and (n := _own_lines(node)) > MAX_FUNCTION_LINES:
                    long[f"{name}:{node.lineno}"] = n
    assert long == {}


def test_the_measure_bites() -> None:
    """A long function is found even inside a class; a builder's nested handlers are not its lines."""
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES + 1))
    tree = ast.parse(f"class C:\n  def f(self):\n{body}\n")
    method = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))
    assert _own_lines(method) > MAX_FUNCTION_LINES
    nested_body = body.replace("\n", "\n    ")
    builder = ast.parse(f"def build():\n    def handler():\n    {nested_body}\n    return handler\n").body[0]
    assert isinstance(builder, ast.FunctionDef) and _own_lines(builder) == 2
