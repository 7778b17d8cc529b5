"""An ONNX file read as protobuf wire format, before onnxruntime sees it: which operator domains it uses, which
external-data files it references, and which operator produces each graph output.

A reader of the wire format only (no ``onnx`` package, no code generated from the schema, nothing run): the
ModelProto fields walked are those of onnx.proto3 (graph 7, functions 25; graph nodes 1, initializers 5,
sparse initializers 15, outputs 12; node op_type 4, domain 7, attributes 5 with their tensors and subgraphs;
tensor external_data 13, data_location 14).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Operator domains onnxruntime implements itself: no custom-op library is ever registered.
BUILTIN_DOMAINS = ("", "ai.onnx", "ai.onnx.ml", "com.microsoft")
#: Deepest nesting of subgraphs (If/Loop/Scan bodies) read.
MAX_DEPTH = 32


class NotOnnx(ValueError):
    """The bytes are not a well-formed ONNX ModelProto."""


@dataclass
class OnnxScan:
    """What :func:`scan_model` found.

    Attributes
    ----------
    custom_ops : list of (domain, op_type)
        Nodes (in the graph, subgraphs and local functions) whose domain is not built into onnxruntime
        nor a function defined in the file.
    external_data : list of str
        The ``location`` of every tensor stored outside the file.
    output_ops : dict
        Graph output name -> op_type of the node that computes it: the producing node, or, through nodes that
        only pass values on (``PASS_THROUGH``: Identity, Reshape, Flatten, Squeeze, Cast...), the node before them.
    """

    custom_ops: list[tuple[str, str]] = field(default_factory=list)
    external_data: list[str] = field(default_factory=list)
    output_ops: dict[str, str] = field(default_factory=dict)


def _varint(buf: memoryview, i: int, end: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        if i >= end or shift > 63:
            raise NotOnnx("truncated varint")
        b = buf[i]
        i += 1
        out |= (b & 0x7F) << shift
        if b < 0x80:
            return out, i
        shift += 7


def _fields(buf: memoryview, start: int, end: int):
    """(field number, wire type, value): an int for varints, a (start, end) span for length-delimited."""
    i = start
    while i < end:
        key, i = _varint(buf, i, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise NotOnnx("field number 0")
        if wire == 0:
            value, i = _varint(buf, i, end)
        elif wire == 1 or wire == 5:
            value, i = None, i + (8 if wire == 1 else 4)
        elif wire == 2:
            n, i = _varint(buf, i, end)
            value, i = (i, i + n), i + n
        else:
            raise NotOnnx(f"wire type {wire}")
        if i > end:
            raise NotOnnx("field runs past its message")
        yield number, wire, value


def _text(buf: memoryview, span) -> str:
    try:
        return bytes(buf[span[0]:span[1]]).decode("utf-8")
    except (UnicodeDecodeError, TypeError):
        raise NotOnnx("a string field is not UTF-8") from None


def scan_model(data: bytes) -> OnnxScan:
    """Walk a serialised ModelProto. Raises :class:`NotOnnx` where the bytes are not one (no ``ir_version``
    or no graph, or not protobuf at all)."""
    buf = memoryview(data)
    scan = OnnxScan()
    graph, functions, ir_version = None, [], None
    for number, wire, value in _fields(buf, 0, len(buf)):
        if number == 1 and wire == 0:
            ir_version = value
        elif number == 7 and wire == 2:
            graph = value
        elif number == 25 and wire == 2:
            functions.append(value)
    if ir_version is None or graph is None:
        raise NotOnnx("no ir_version or no graph")
    local = set()
    for span in functions:
        name = domain = ""
        for number, wire, value in _fields(buf, *span):
            if number == 1 and wire == 2:
                name = _text(buf, value)
            elif number == 10 and wire == 2:
                domain = _text(buf, value)
        local.add((domain, name))
    nodes: list[tuple[str, str]] = []
    _graph(buf, graph, scan, nodes, 0, top=True)
    for span in functions:
        for number, wire, value in _fields(buf, *span):
            if number == 7 and wire == 2:
                _node(buf, value, scan, nodes, 1)
    scan.custom_ops = sorted({(d, op) for d, op in nodes if d not in BUILTIN_DOMAINS and (d, op) not in local})
    return scan


#: Operators that pass their (first) input on without changing its values: a Softmax followed by one of them still
#: outputs probabilities.
PASS_THROUGH = frozenset({"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Cast", "Dropout", "Transpose",
                          "Expand", "CastLike"})


def _computed_by(name: str, produced: dict[str, tuple[str, str]]) -> str:
    seen = set()
    op, source = produced.get(name, ("", ""))
    while op in PASS_THROUGH and source in produced and source not in seen:
        seen.add(source)
        op, source = produced[source]
    return op


def _graph(buf, span, scan: OnnxScan, nodes: list, depth: int, top: bool = False) -> None:
    if depth > MAX_DEPTH:
        raise NotOnnx(f"subgraphs nested deeper than {MAX_DEPTH}")
    outputs, produced = [], {}
    for number, wire, value in _fields(buf, *span):
        if wire != 2:
            continue
        if number == 1:
            first_input: list[str] = []
            for out in _node(buf, value, scan, nodes, depth, first_input):
                produced[out] = (nodes[-1][1], first_input[0] if first_input else "")
        elif number == 5:
            _tensor(buf, value, scan)
        elif number == 15:
            for n2, w2, v2 in _fields(buf, *value):
                if n2 in (1, 2) and w2 == 2:
                    _tensor(buf, v2, scan)
        elif number == 12 and top:
            for n2, w2, v2 in _fields(buf, *value):
                if n2 == 1 and w2 == 2:
                    outputs.append(_text(buf, v2))
    if top:
        scan.output_ops = {name: _computed_by(name, produced) for name in outputs}


def _node(buf, span, scan: OnnxScan, nodes: list, depth: int, first_input: list | None = None) -> list[str]:
    op = domain = ""
    outputs = []
    for number, wire, value in _fields(buf, *span):
        if wire != 2:
            continue
        if number == 1 and first_input is not None and not first_input:
            first_input.append(_text(buf, value))
        elif number == 2:
            outputs.append(_text(buf, value))
        elif number == 4:
            op = _text(buf, value)
        elif number == 7:
            domain = _text(buf, value)
        elif number == 5:
            _attribute(buf, value, scan, nodes, depth)
    nodes.append((domain, op))
    return outputs


def _attribute(buf, span, scan: OnnxScan, nodes: list, depth: int) -> None:
    for number, wire, value in _fields(buf, *span):
        if wire != 2:
            continue
        if number in (5, 10):
            _tensor(buf, value, scan)
        elif number in (22, 23):
            for n2, w2, v2 in _fields(buf, *value):
                if n2 in (1, 2) and w2 == 2:
                    _tensor(buf, v2, scan)
        elif number in (6, 11):
            _graph(buf, value, scan, nodes, depth + 1)


def _tensor(buf, span, scan: OnnxScan) -> None:
    for number, wire, value in _fields(buf, *span):
        if number == 13 and wire == 2:
            key = val = ""
            for n2, w2, v2 in _fields(buf, *value):
                if n2 == 1 and w2 == 2:
                    key = _text(buf, v2)
                elif n2 == 2 and w2 == 2:
                    val = _text(buf, v2)
            if key == "location":
                scan.external_data.append(val)
