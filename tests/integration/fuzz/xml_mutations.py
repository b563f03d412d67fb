"""Mutations of valid XML messages, as hypothesis strategies.

A mutation is drawn as a plain recipe (operation, indices, values) independent of any message, then
applied to the seed message: this shrinks well and lets one recipe hit every message type. Tree
operations drop, duplicate, reorder, re-text, re-namespace and add elements; byte operations
truncate, flip and splice bytes after serialisation.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from lxml import etree

NAMESPACES = [
    "http://openadr.org/oadr-2.0b/2012/07",
    "http://docs.oasis-open.org/ns/energyinterop/201110",
    "http://docs.oasis-open.org/ns/energyinterop/201110/payloads",
    "urn:ietf:params:xml:ns:icalendar-2.0",
    "http://docs.oasis-open.org/ns/emix/2011/06/power",
    "http://openadr.org/oadr-2.0a/2012/07",  # the 2.0a namespace: a classic confusion
    "",
]
# Values that are often schema-valid (so they reach the handlers) but semantically hostile.
PLAUSIBLE = [
    "", " ", "0", "-1", "1", "2147483648", "9223372036854775808", "-9223372036854775809",
    "1" * 40, "1e308", "1e309", "-0", "NaN", "INF", "-INF", "0.1", "3.4028235e38",
    "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2030-06-01T12:00:00", "2030-06-01T12:00:00+14:00",
    "2030-06-01T12:00:00.123456789Z", "-0001-01-01T00:00:00Z", "2030-02-30T00:00:00Z",
    "P99999999Y", "PT0S", "-PT5M", "P1Y2M", "PT1000000000H", "P", "PT0.5S",
    "optIn", "optOut", "2.0a", "2.0b", "simpleHttp", "xmpp", "true", "false", "x-custom", "SIMPLE",
    "x" * 70, "x" * 300, "é" * 100, "\u202e\u0000".replace("\u0000", ""), "a b", "../../etc",
    "' OR 1=1 --", "%s%n", "<b>",
]  # fmt: skip
TEXT = st.one_of(
    st.sampled_from(PLAUSIBLE),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40),
    st.integers(min_value=65, max_value=5000).map(lambda n: "y" * n),
)


@dataclass(frozen=True, slots=True)
class Op:
    kind: str
    index: int  # an element (modulo the element count) or a byte position (modulo the length)
    value: Any = None


TREE_OPS = st.one_of(
    st.builds(Op, st.just("drop"), st.integers(0, 200)),
    st.builds(Op, st.just("duplicate"), st.integers(0, 200), st.integers(1, 3)),
    st.builds(Op, st.just("swap"), st.integers(0, 200)),
    st.builds(Op, st.just("reverse"), st.integers(0, 200)),
    st.builds(Op, st.just("text"), st.integers(0, 200), TEXT),
    st.builds(Op, st.just("text"), st.integers(0, 200), TEXT),
    st.builds(Op, st.just("namespace"), st.integers(0, 200), st.sampled_from(NAMESPACES)),
    st.builds(Op, st.just("child"), st.integers(0, 200), st.sampled_from(["venID", "foo", "eventID"])),
    st.builds(Op, st.just("attribute"), st.integers(0, 200), TEXT),
    st.builds(Op, st.just("empty"), st.integers(0, 200)),
)
# Re-texting a leaf (an ID, a number, a time) mostly keeps the message schema-valid, so it gets
# past the parser to the handlers and the database: the interesting part.
LEAF_TEXT = st.builds(Op, st.just("leaf_text"), st.integers(0, 200), TEXT)
BYTE_OPS = st.one_of(
    st.builds(Op, st.just("truncate"), st.integers(0, 100_000)),
    st.builds(Op, st.just("flip"), st.integers(0, 100_000), st.integers(0, 255)),
    st.builds(Op, st.just("splice"), st.integers(0, 100_000), st.binary(min_size=1, max_size=20)),
)


@st.composite
def recipes(draw: st.DrawFn) -> list[Op]:
    """Half the time one or two leaf re-texts; else 0 to 4 tree operations, then sometimes a byte
    operation (0 operations: the valid seed)."""
    if draw(st.booleans()):
        return draw(st.lists(LEAF_TEXT, min_size=1, max_size=2))
    ops: list[Op] = draw(st.lists(TREE_OPS, max_size=4))
    if draw(st.integers(0, 3)) == 0:
        ops.append(draw(BYTE_OPS))
    return ops


def apply(recipe: list[Op], body: bytes) -> bytes:
    root = etree.fromstring(body)
    byte_ops = []
    for op in recipe:
        if op.kind in ("truncate", "flip", "splice"):
            byte_ops.append(op)
        else:
            _tree_op(root, op)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    for op in byte_ops:
        data = _byte_op(data, op)
    return data


def _tree_op(root: Any, op: Op) -> None:
    elements = list(root.iter(etree.Element))
    el = elements[op.index % len(elements)]
    parent = el.getparent()
    if op.kind == "drop" and parent is not None:
        parent.remove(el)
    elif op.kind == "duplicate" and parent is not None:
        for _ in range(op.value):
            el.addnext(copy.deepcopy(el))
    elif op.kind == "swap" and parent is not None and el.getnext() is not None:
        el.getnext().addnext(el)
    elif op.kind == "reverse":
        el[:] = list(reversed(el))
    elif op.kind == "leaf_text":
        leaves = [e for e in elements if len(e) == 0]
        leaves[op.index % len(leaves)].text = op.value
    elif op.kind == "text":
        el.text = op.value
    elif op.kind == "namespace":
        local = etree.QName(el).localname
        el.tag = f"{{{op.value}}}{local}" if op.value else local
    elif op.kind == "child":
        namespace = etree.QName(el).namespace
        etree.SubElement(el, f"{{{namespace}}}{op.value}" if namespace else op.value)
    elif op.kind == "attribute":
        el.set("fuzz", op.value)
    elif op.kind == "empty":
        el[:] = []
        el.text = None


def _byte_op(data: bytes, op: Op) -> bytes:
    position = op.index % (len(data) + 1)
    if op.kind == "truncate":
        return data[:position]
    if op.kind == "flip" and position < len(data):
        return data[:position] + bytes([op.value]) + data[position + 1 :]
    if op.kind == "splice":
        return data[:position] + op.value + data[position:]
    return data
