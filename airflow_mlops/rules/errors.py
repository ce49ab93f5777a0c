"""Rule errors: one message naming the rule text and the position, with a caret under it."""

from __future__ import annotations


class RuleError(ValueError):
    """A rule that does not parse, does not type-check or cannot be evaluated.

    ``text`` is the rule, ``column``/``line`` (1-based) the position when known.
    """

    def __init__(self, message: str, text: str | None = None, pos: int | None = None) -> None:
        self.reason = message
        self.text = text
        self.pos = pos
        self.line, self.column = _line_col(text, pos) if text is not None and pos is not None else (None, None)
        super().__init__(self._render())

    def _render(self) -> str:
        if self.text is None:
            return self.reason
        shown = _excerpt(self.text)
        if self.pos is None:
            return f"{self.reason} in rule {shown!r}"
        lines = self.text.splitlines() or [""]
        src = lines[self.line - 1] if self.line - 1 < len(lines) else ""
        start = max(0, self.column - 1 - 60)
        snippet = src[start : start + 120]
        caret = " " * (self.column - 1 - start) + "^"
        return f"{self.reason} at line {self.line}, column {self.column} of rule {shown!r}\n    {snippet}\n    {caret}"


def _line_col(text: str, pos: int) -> tuple[int, int]:
    pos = max(0, min(pos, len(text)))
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, column


def _excerpt(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"
