"""Secrets are compared in constant time: an AST lint over the code base (ASVS 11.2.4).

``==`` on a signature, HMAC, CSRF token, secret or password returns as soon as one byte differs, which lets an
attacker guess the value byte by byte from response times; ``hmac.compare_digest`` does not. SQL comparisons
(``TABLE.c.token_digest == digest``) look rows up by a digest of a high-entropy secret and are not flagged.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "hub", "connectors")
SECRET_NAME = re.compile(r"signature|hmac|csrf|secret|(^|_)mac($|_)|password", re.IGNORECASE)


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call | ast.Subscript):
        return _name(node.func if isinstance(node, ast.Call) else node.value)
    return ""


def _is_exempt(node: ast.expr) -> bool:
    sql_column = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "c"
    literal = isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, str | int))
    return sql_column or literal


def equality_on_secrets(source: str) -> Iterator[str]:
    """Every ``==`` / ``!=`` in ``source`` that has an operand named like a secret."""
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare) or not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            continue
        operands = [node.left, *node.comparators]
        if any(_is_exempt(operand) for operand in operands):
            continue
        if any(SECRET_NAME.search(_name(operand)) for operand in operands):
            yield f"line {node.lineno}: {ast.unparse(node)}"


def test_the_lint_flags_an_ordinary_comparison_of_a_signature():
    flagged = list(equality_on_secrets("def ok(signature, expected):\n    return signature == expected\n"))
    assert flagged == ["line 2: signature == expected"]
    exempt = "hmac.compare_digest(signature, expected)\nUSERS.c.password_hash == stored\nsignature is None\n"
    assert not list(equality_on_secrets(exempt))


def test_no_secret_is_compared_with_equality():
    found = [
        f"{path.relative_to(ROOT)} {hit}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for hit in equality_on_secrets(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "use hmac.compare_digest:\n" + "\n".join(found)
