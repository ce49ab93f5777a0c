"""The rule grammar (lark, LALR) and a parser that bounds input size and nesting before parsing.

Syntax, loosest binding first::

    or / and / not                      a or b, a and not b          (keywords case-insensitive)
    comparison                          == != < <= > >=, x in [1, 2], x not in [..], x between 1 and 5
    arithmetic                          + - * / %, ** (right-associative), unary -
    values                              numbers, "strings" or 'strings', true, false, [lists]
    names and lookups                   metrics["mae"], metrics.mae, tags["k"], a.created_time

The LALR parser is iterative, and the parse tree's depth is checked without recursion before anything
walks it recursively, so hostile input ends in a :class:`RuleError`, never a RecursionError.
"""

from __future__ import annotations

from functools import lru_cache

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from airflow_mlops.rules.errors import RuleError

MAX_LENGTH = 4000
MAX_BRACKET_DEPTH = 32
MAX_TREE_DEPTH = 100
MAX_NUMBER_CHARS = 24

GRAMMAR = r"""
?start: or_expr

?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr                    -> not_
         | comparison

?comparison: sum
           | sum COMP_OP sum                -> compare
           | sum _IN list                   -> in_
           | sum _NOT _IN list              -> not_in
           | sum _BETWEEN sum _AND sum      -> between

?sum: product (ADD_OP product)*
?product: unary (MUL_OP unary)*
?unary: "-" unary                           -> neg
      | power
?power: postfix "**" unary                  -> pow
      | postfix
?postfix: atom
        | postfix "." NAME                  -> attr
        | postfix "[" STRING "]"            -> index

?atom: NUMBER                               -> number
     | STRING                               -> string
     | _TRUE                                -> true
     | _FALSE                               -> false
     | NAME                                 -> name
     | list
     | "(" or_expr ")"

list: "[" [or_expr ("," or_expr)*] "]"

_OR.2: /or\b/i
_AND.2: /and\b/i
_NOT.2: /not\b/i
_IN.2: /in\b/i
_BETWEEN.2: /between\b/i
_TRUE.2: /true\b/i
_FALSE.2: /false\b/i
COMP_OP: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/" | "%"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /\d+(\.\d*)?([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?/
STRING: /"[^"\\\n]*"|'[^'\\\n]*'/

%import common.WS
%ignore WS
"""


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def prescan(text: str) -> None:
    """Reject over-long input and over-deep brackets before the parser sees them."""
    if not isinstance(text, str):
        raise RuleError(f"a rule must be a string, got {type(text).__name__}")
    if not text.strip():
        raise RuleError("empty rule", text, 0)
    if len(text) > MAX_LENGTH:
        raise RuleError(f"rule too long ({len(text)} characters, at most {MAX_LENGTH})", text, MAX_LENGTH)
    depth = 0
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
            if depth > MAX_BRACKET_DEPTH:
                raise RuleError(f"brackets nested too deeply (more than {MAX_BRACKET_DEPTH} levels)", text, i)
        elif ch in ")]":
            depth -= 1


def parse(text: str) -> Tree:
    """Parse rule text into a lark tree, or raise one :class:`RuleError` with the position."""
    prescan(text)
    try:
        tree = _parser().parse(text)
    except UnexpectedCharacters as exc:
        raise RuleError(f"unexpected character {text[exc.pos_in_stream]!r}", text, exc.pos_in_stream) from None
    except UnexpectedEOF:
        raise RuleError("rule ends too early", text, len(text)) from None
    except UnexpectedToken as exc:
        token = exc.token
        if token.type == "$END":
            raise RuleError("rule ends too early", text, len(text)) from None
        expected = _describe_expected(exc.expected)
        raise RuleError(f"unexpected {str(token)!r}{expected}", text, token.start_pos) from None
    except UnexpectedInput as exc:  # pragma: no cover - other lark input errors
        raise RuleError(f"cannot parse: {exc.__class__.__name__}", text, getattr(exc, "pos_in_stream", None)) from None
    _check_depth(tree, text)
    return tree


def _describe_expected(expected: set[str]) -> str:
    names = {
        "_OR": "or", "_AND": "and", "_NOT": "not", "_IN": "in", "_BETWEEN": "between", "RPAR": ")",
        "RSQB": "]", "COMMA": ",", "NAME": "a name", "NUMBER": "a number", "STRING": "a string",
        "COMP_OP": "a comparison", "LPAR": "(", "LSQB": "[",
    }  # fmt: skip
    shown = sorted({names.get(e, "") for e in expected} - {""})
    return f" (expected {', '.join(shown)})" if shown and len(shown) <= 8 else ""


def _check_depth(tree: Tree, text: str) -> None:
    """Iterative depth check, so that later recursive walks are bounded."""
    stack: list[tuple[Tree | Token, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            pos = node.meta.start_pos if isinstance(node, Tree) and not node.meta.empty else None
            raise RuleError(f"rule nested too deeply (more than {MAX_TREE_DEPTH} levels)", text, pos)
        if isinstance(node, Tree):
            stack.extend((child, depth + 1) for child in node.children)
