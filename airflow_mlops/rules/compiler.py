"""Type-check a parsed rule and evaluate it against candidate attributes, without eval/exec.

Every name is looked up in a fixed scope (:mod:`airflow_mlops.rules.types`); ``.name`` and ``["key"]`` read
mapping keys, never Python attributes. Numbers are floats, bounded in size: an operation whose result is
not finite or exceeds ``MAX_MAGNITUDE`` is an error (so ``2 ** 99999999`` fails at once instead of hanging).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lark import Token, Tree

from airflow_mlops.rules.errors import RuleError
from airflow_mlops.rules.grammar import MAX_NUMBER_CHARS, parse
from airflow_mlops.rules.types import BOOL, NUM, STR, MapType, RecordType, describe

MAX_MAGNITUDE = 1e300
COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "%": operator.mod}


def _pos(node: Tree | Token) -> int | None:
    if isinstance(node, Token):
        return node.start_pos
    return None if node.meta.empty else node.meta.start_pos


def _string(token: Token) -> str:
    return str(token)[1:-1]


@dataclass
class Rule:
    """A compiled rule: call :meth:`evaluate` with the scope's values (a candidate, or ``a``/``b``)."""

    text: str
    tree: Tree
    kind: str  # "condition" or "selection"

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """The rule's value for ``values``; a :class:`RuleError` for a missing metric, a division by zero..."""
        return _Evaluator(self.text, values).run(self.tree)

    def names(self) -> list[str]:
        """Attribute paths the rule reads (e.g. ``metrics.mae``, ``a.created_time``), for decision records."""
        found: list[str] = []
        stack: list[Tree | Token] = [self.tree]
        while stack:
            node = stack.pop()
            if not isinstance(node, Tree):
                continue
            path = _path(node) if node.data in ("attr", "index", "name") else None
            if path:
                if path not in found:
                    found.append(path)
                continue
            stack.extend(reversed(node.children))
        return found

    def lookup(self, path: str, values: Mapping[str, Any]) -> Any:
        """Value of one path from :meth:`names` (None when missing)."""
        current: Any = values
        for part in path.split("."):
            if not isinstance(current, Mapping) or part not in current:
                return None
            current = current[part]
        return current


def _path(node: Tree) -> str | None:
    if node.data == "name":
        return str(node.children[0])
    if node.data in ("attr", "index") and isinstance(node.children[0], Tree):
        base = _path(node.children[0])
        key = str(node.children[1]) if node.data == "attr" else _string(node.children[1])
        return f"{base}.{key}" if base else None
    return None


class _Checker:
    """Infers the type of each node; raises RuleError for unknown names and type mismatches."""

    def __init__(self, text: str, scope: Mapping[str, object]) -> None:
        self.text = text
        self.scope = scope

    def fail(self, message: str, node: Tree | Token) -> RuleError:
        return RuleError(message, self.text, _pos(node))

    def type_of(self, node: Tree | Token) -> object:  # noqa: C901  (one branch per grammar node: the type rules in one place)
        kind = node.data
        kids = node.children
        if kind == "number":
            return self._number(kids[0]) and NUM
        if kind == "string":
            return STR
        if kind in ("true", "false"):
            return BOOL
        if kind == "name":
            name = str(kids[0])
            if name not in self.scope:
                raise self.fail(f"unknown name {name!r} (known: {', '.join(sorted(self.scope))})", node)
            return self.scope[name]
        if kind == "attr":
            return self._member(self.type_of(kids[0]), str(kids[1]), kids[1], node)
        if kind == "index":
            return self._member(self.type_of(kids[0]), _string(kids[1]), kids[1], node)
        if kind in ("or_expr", "and_expr"):
            for kid in kids:
                self.expect(kid, BOOL, f"'{'or' if kind == 'or_expr' else 'and'}' needs")
            return BOOL
        if kind == "not_":
            self.expect(kids[0], BOOL, "'not' needs")
            return BOOL
        if kind == "compare":
            left, op, right = self.type_of(kids[0]), str(kids[1]), self.type_of(kids[2])
            self._scalar(left, kids[0])
            if left != right:
                raise self.fail(f"cannot compare {describe(left)} with {describe(right)} using {op}", kids[1])
            if op not in ("==", "!=") and left != NUM:
                raise self.fail(f"{op} needs numbers, got {describe(left)}", kids[1])
            return BOOL
        if kind in ("in_", "not_in"):
            left = self.type_of(kids[0])
            self._scalar(left, kids[0])
            for item in kids[1].children:
                item_type = self.type_of(item)
                if item_type != left:
                    raise self.fail(f"list item is a {describe(item_type)}, expected {describe(left)}", item)
            return BOOL
        if kind == "list":
            raise self.fail("a list is only allowed after 'in'", node)
        if kind == "between":
            for kid in kids:
                self.expect(kid, NUM, "'between' needs")
            return BOOL
        if kind in ("sum", "product"):
            for kid in kids[::2]:
                self.expect(kid, NUM, f"{str(kids[1])!r} needs")
            return NUM
        if kind == "neg":
            self.expect(kids[0], NUM, "'-' needs")
            return NUM
        if kind == "pow":
            self.expect(kids[0], NUM, "'**' needs")
            self.expect(kids[1], NUM, "'**' needs")
            return NUM
        raise self.fail(f"unsupported expression {kind!r}", node)  # pragma: no cover

    def expect(self, node: Tree, wanted: str, what: str) -> None:
        got = self.type_of(node)
        if got != wanted:
            raise self.fail(f"{what} a {wanted}, got {describe(got)}", node)

    def _scalar(self, t: object, node: Tree) -> None:
        if isinstance(t, MapType | RecordType):
            raise self.fail(f"{describe(t)} is not a single value", node)

    def _number(self, token: Token) -> bool:
        if len(token) > MAX_NUMBER_CHARS:
            raise self.fail(f"number too long (at most {MAX_NUMBER_CHARS} characters)", token)
        if not math.isfinite(float(token)) or abs(float(token)) > MAX_MAGNITUDE:
            raise self.fail("number too large", token)
        return True

    def _member(self, base: object, key: str, key_node: Token, node: Tree) -> object:
        if isinstance(base, RecordType):
            if key not in base.fields:
                known = ", ".join(sorted(base.fields))
                raise self.fail(f"{base.name} has no attribute {key!r} (known: {known})", key_node)
            return base.fields[key]
        if isinstance(base, MapType):
            if base.known_keys is not None and key not in base.known_keys:
                known = ", ".join(sorted(base.known_keys))
                raise self.fail(f"unknown metric {key!r} in {base.name} (known: {known})", key_node)
            return base.value
        raise self.fail(f"a {describe(base)} has no attribute or key {key!r}", key_node)


class _Evaluator:
    """Evaluates a checked tree. Recursion depth is bounded by the grammar's tree-depth check."""

    def __init__(self, text: str, values: Mapping[str, Any]) -> None:
        self.text = text
        self.values = values

    def fail(self, message: str, node: Tree | Token) -> RuleError:
        return RuleError(message, self.text, _pos(node))

    def run(self, tree: Tree) -> Any:
        return self.value(tree)

    def value(self, node: Tree) -> Any:  # noqa: C901  (one branch per grammar node, like type_of)
        kind = node.data
        kids = node.children
        if kind == "number":
            return float(kids[0])
        if kind == "string":
            return _string(kids[0])
        if kind == "true":
            return True
        if kind == "false":
            return False
        if kind == "name":
            return self._get(self.values, str(kids[0]), None, node, "name")
        if kind in ("attr", "index"):
            base = self.value(kids[0])
            key = str(kids[1]) if kind == "attr" else _string(kids[1])
            return self._get(base, key, None, kids[1], _path(kids[0]) or "value")
        if kind == "or_expr":
            return any(self._bool(kid) for kid in kids)
        if kind == "and_expr":
            return all(self._bool(kid) for kid in kids)
        if kind == "not_":
            return not self._bool(kids[0])
        if kind == "compare":
            left, right = self.value(kids[0]), self.value(kids[2])
            op = str(kids[1])
            if op not in ("==", "!=") and not (_is_num(left) and _is_num(right)):
                raise self.fail(f"{op} needs numbers, got {left!r} and {right!r}", kids[1])
            return bool(COMPARE[op](left, right))
        if kind in ("in_", "not_in"):
            left = self.value(kids[0])
            found = any(left == self.value(item) for item in kids[1].children)
            return found if kind == "in_" else not found
        if kind == "between":
            x, low, high = (self._num(k) for k in kids)
            return low <= x <= high
        if kind in ("sum", "product"):
            result = self._num(kids[0])
            for op, kid in zip(kids[1::2], kids[2::2], strict=True):
                right = self._num(kid)
                if str(op) in "/%" and right == 0:
                    raise self.fail("division by zero", op)
                result = self._bounded(ARITH[str(op)](result, right), op)
            return result
        if kind == "neg":
            return -self._num(kids[0])
        if kind == "pow":
            base, exponent = self._num(kids[0]), self._num(kids[1])
            try:
                result = base**exponent
            except (OverflowError, ZeroDivisionError) as exc:
                raise self.fail(f"cannot compute {base:g} ** {exponent:g}: {exc}", node) from None
            if isinstance(result, complex):
                raise self.fail(f"{base:g} ** {exponent:g} is not a real number", node)
            return self._bounded(result, node)
        raise self.fail(f"unsupported expression {kind!r}", node)  # pragma: no cover

    def _get(self, base: Any, key: str, default: Any, node: Tree | Token, where: str) -> Any:
        if isinstance(base, Mapping) and key in base and base[key] is not None:
            return base[key]
        if where == "tags" or where.endswith(".tags"):
            return ""  # a missing tag reads as the empty string
        label = {"metrics": "metric", "tags": "tag"}.get(where.rsplit(".", 1)[-1], "value")
        owner = f" of {where}" if where not in ("name", "value", "metrics", "tags") else ""
        raise self.fail(f"missing {label} {key!r}{owner}", node)

    def _bool(self, node: Tree) -> bool:
        value = self.value(node)
        if not isinstance(value, bool):
            raise self.fail(f"expected true/false, got {value!r}", node)
        return value

    def _num(self, node: Tree) -> float:
        value = self.value(node)
        if not _is_num(value):
            raise self.fail(f"expected a number, got {value!r}", node)
        return float(value)

    def _bounded(self, value: float, node: Tree | Token) -> float:
        if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
            raise self.fail("number too large", node)
        return value


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def compile_rule(text: str, scope: Mapping[str, object], kind: str) -> Rule:
    """Parse and type-check; constant sub-expressions (no names) are evaluated now, so ``2 ** 9999`` fails here."""
    tree = parse(text)
    result = _Checker(text, scope).type_of(tree)
    if result != BOOL:
        raise RuleError(f"a {kind} must be true or false, got a {describe(result)}", text, _pos(tree))
    evaluator = _Evaluator(text, {})
    for node in tree.iter_subtrees():  # iterative, bottom-up
        if node.data in ("sum", "product", "pow", "neg") and not any(
            sub.data == "name" for sub in node.iter_subtrees()
        ):
            evaluator.value(node)
    return Rule(text=text, tree=tree, kind=kind)
