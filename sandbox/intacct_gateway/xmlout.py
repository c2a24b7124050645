"""Writing the gateway's XML answers as text.

Answers are written as strings rather than lxml trees because a `query` page of 2,000 records is
40,000+ elements: one `%` format per record over texts the store keeps escaped is several times faster
than building and serialising a tree (see docs/sandbox.md, "Performance"). The tests parse every answer
back with lxml.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attribute(text: str) -> str:
    return escape(text).replace('"', "&quot;")


def element(tag: str, text: str = "") -> str:
    return f"<{tag}>{escape(text)}</{tag}>"


def start_tag(tag: str, attributes: dict[str, Any] | None = None, empty: bool = False) -> str:
    attrs = "".join(f' {name}="{escape_attribute(str(value))}"' for name, value in (attributes or {}).items())
    return f"<{tag}{attrs}{'/' if empty else ''}>"


def wrap(tag: str, *children: str, attributes: dict[str, Any] | None = None) -> str:
    return f"{start_tag(tag, attributes)}{''.join(children)}</{tag}>"


class RecordWriter:
    """Writes records of one shape: a record tag around one element per field, as UTF-8 chunks.

    `nested` groups dotted names into sub-elements (readByQuery's `<DISPLAYCONTACT><MAILADDRESS><CITY>`);
    otherwise dotted names stay literal tags (`query`'s `<DISPLAYCONTACT.MAILADDRESS.CITY>`).
    `values_of(row)` must return the fields' XML-escaped texts in the order of `names`, as a tuple.
    """

    def __init__(
        self, tag: str, names: Sequence[str], values_of: Callable[[Any], tuple[str, ...]], nested: bool
    ):
        self._values_of = values_of
        body = _nested_template(names) if nested else "".join(_tag(name, "%s") for name in names)
        self._template = _tag(tag, body)

    def write(self, rows: Iterable[Any]) -> list[bytes]:
        # one small chunk per record: a page is never one wide str (a single CJK character would make
        # it 4 bytes a character) and the only large allocation is the final join of the answer
        template, values_of = self._template, self._values_of
        return [(template % values_of(row)).encode("utf-8") for row in rows]


def _tag(name: str, body: str) -> str:
    name = name.replace("%", "%%")
    return f"<{name}>{body}</{name}>"


def _tree(names: Sequence[str]) -> dict[str, Any]:
    # an ordered tree of dotted names: each path segment sits where its first field appears
    tree: dict[str, Any] = {}
    for name in names:
        *parents, leaf = name.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = name
    return tree


def _nested_template(names: Sequence[str]) -> str:
    if list(names) != grouped(names):
        raise ValueError("nested records need their field names in grouped() order")

    def render(node: dict[str, Any]) -> str:
        return "".join(
            _tag(part, render(child) if isinstance(child, dict) else "%s") for part, child in node.items()
        )

    return render(_tree(names))


def grouped(names: Sequence[str]) -> list[str]:
    """`names` reordered so fields of one sub-record are adjacent, the order nested records are written in."""

    def leaves(node: dict[str, Any]) -> list[str]:
        return [n for child in node.values() for n in (leaves(child) if isinstance(child, dict) else [child])]

    return leaves(_tree(names))
