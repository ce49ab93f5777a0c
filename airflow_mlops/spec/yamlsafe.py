"""A hardened YAML reader for specs and rule files: no anchors or aliases, bounded size and depth.

PyYAML's ``SafeLoader`` refuses arbitrary Python objects but still expands aliases (a 300-byte
"billion laughs" document keeps it busy for minutes), recurses once per nesting level (5,000 ``[``
end in ``RecursionError``) and keeps the last of two equal keys. The loaders here hook the composer
and the constructor to refuse all three (libyaml scans and parses when PyYAML has it, the checks stay
in Python), and :func:`read_yaml` turns every failure (bytes that are not UTF-8, oversized input,
scanner errors) into a :class:`YamlProblem` with a line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.resolver import Resolver
from yaml.scanner import ScannerError

MAX_BYTES = 256_000  # the example specs are ~2.5 kB
MAX_DEPTH = 32  # the example specs nest 5 levels deep
MAX_NODES = 10_000  # the example specs have ~250 nodes; pure-Python parsing costs ~0.1 ms per node


class YamlProblem(Exception):
    """Why a document could not be read; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _Limits:
    """Composer and constructor hooks shared by both loaders: no anchors or aliases, no duplicate keys,
    bounded depth and node count, unreadable values as a :class:`ConstructorError` with a mark."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)  # type: ignore[call-arg]
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, AliasEvent):
            raise ComposerError(None, None, "aliases (*name) are not allowed in a spec", event.start_mark)
        if isinstance(event, ScalarEvent | CollectionStartEvent) and event.anchor is not None:
            raise ComposerError(None, None, "anchors (&name) are not allowed in a spec", event.start_mark)
        self._depth += 1
        self._nodes += 1
        try:
            if self._nodes > MAX_NODES:
                raise ComposerError(None, None, f"more than {MAX_NODES:,} values", event.start_mark)
            if self._depth > MAX_DEPTH:
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)  # type: ignore[misc]
        except ValueError as exc:  # e.g. an integer of more than 4,300 digits
            reason = str(exc).split(":")[0][:120]
            raise ConstructorError(None, None, f"value cannot be read ({reason})", node.start_mark) from None

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise ConstructorError(None, None, f"duplicate key {key_node.value[:60]!r}", key_node.start_mark)
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class SpecLoader(_Limits, yaml.SafeLoader):
    """Pure-Python ``SafeLoader`` refusing anchors, aliases, duplicate keys, deep nesting and too many values."""

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # The scanner looks ahead over every possible simple key of a flow collection, in quadratic
        # time: stop a deep ``[[[[…`` here, before the composer would see it.
        if self.flow_level >= MAX_DEPTH:
            raise ScannerError(None, None, f"nested deeper than {MAX_DEPTH} levels", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)


if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser

    class CSpecLoader(_Limits, Composer, SafeConstructor, Resolver, CParser):
        """The same limits over libyaml's scanner and parser (about 5x faster than :class:`SpecLoader`).

        Only scanning and parsing run in C: nodes are composed by PyYAML's Python composer (it pulls
        libyaml's events one by one), so the hooks above see every event and stop a deep or huge
        document as early as the pure-Python loader does.
        """

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._depth = 0
            self._nodes = 0

    LOADER: type = CSpecLoader
else:  # pragma: no cover - PyYAML built without libyaml
    LOADER = SpecLoader


def decode(raw: bytes) -> str:
    """UTF-8 text of ``raw``; :class:`YamlProblem` naming the line of the first bad byte, or an oversized input."""
    if len(raw) > MAX_BYTES:
        raise YamlProblem(f"larger than {MAX_BYTES:,} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise YamlProblem(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})", line) from None


def read_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """``(data, node)`` of a single YAML document; :class:`YamlProblem` instead of any parser failure."""
    if len(text) > MAX_BYTES:
        raise YamlProblem(f"larger than {MAX_BYTES:,} bytes")
    loader = None
    try:
        loader = LOADER(text)  # the pure-Python reader refuses control characters here already
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context
        if problem == "exceeded maximum nesting depth":  # libyaml's own limit (1,000) on flow nesting met first
            problem = f"nested deeper than {MAX_DEPTH} levels"
        raise YamlProblem(f"not valid YAML: {problem}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"not valid YAML: {exc}") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # defence in depth: the limits should stop these
        raise YamlProblem(f"cannot be read: {type(exc).__name__}: {str(exc)[:200]}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, node
