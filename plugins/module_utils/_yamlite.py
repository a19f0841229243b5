# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""A small, strict YAML subset: enough to read and write the node's images.yaml.

Managed nodes may not have PyYAML, so this reader and writer use the standard
library only.  The subset:

* block mappings and block sequences (indentation with spaces), including
  ``- key: value`` mapping items and a sequence written at its key's indentation;
* flow mappings ``{a: b, c: {d: e}}`` and flow sequences ``[a, b]``, which may
  span lines;
* plain, single-quoted and double-quoted scalars (one line each; double quotes
  take backslash escapes such as ``\\n``, ``\\"``, ``\\u00e9``);
* comments, blank lines, an optional leading ``---`` and a trailing ``...``.

Every scalar is read as ``str``, except null (``null``, ``Null``, ``NULL``,
``~`` or an empty value), which is read as ``None``.  Anything outside the
subset (anchors, aliases, tags, block scalars, multi-line plain or quoted
scalars, several documents, tabs in indentation, duplicate keys, ...) is
refused with a :class:`YamlLiteError` naming the line, never guessed at.

:func:`dumps` writes block YAML that both :func:`loads` and PyYAML read back as
the same data: any string that PyYAML could take for a number, boolean, date
or null is double-quoted.
"""

from __future__ import annotations

import bisect
import re

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError

NULL_WORDS = frozenset(("null", "Null", "NULL", "~"))
"""Plain scalars read as ``None`` (an empty value is null too)."""

_SAFE_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*\Z")
_RESERVED_WORDS = frozenset(("yes", "no", "on", "off", "true", "false", "null", "y", "n"))

# Characters PyYAML refuses in a stream, plus the YAML 1.1 line breaks other than "\n".
_BAD_CHAR = re.compile("[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SEPARATORS = ("", " ", "\t", "\n")
_FLOW_INDICATORS = ",[]{}"
_SIMPLE_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r",
    "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_START_REFUSALS = {
    "&": "anchors ('&') are not supported",
    "*": "aliases ('*') are not supported",
    "!": "tags ('!') are not supported",
    "|": "block scalars ('|' and '>') are not supported",
    ">": "block scalars ('|' and '>') are not supported",
    "%": "'%' cannot start a plain scalar; quote the value",
    "@": "'@' is reserved and cannot start a plain scalar; quote the value",
    "`": "'`' is reserved and cannot start a plain scalar; quote the value",
}
_DUMP_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


class YamlLiteError(FleetopsError):
    """A document is not valid YAML or falls outside the supported subset.

    ``str(exc)`` is ``"<source>: line <n>: <message>"``.
    """

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        super().__init__("%s: line %d: %s" % (source, line, message))


def _marker_rest(line: str, marker: str) -> str | None:
    """The text after a ``---``/``...`` marker line, or None when the line is not one."""
    if line.startswith(marker) and line[3:4] in _SEPARATORS:
        return line[3:].strip(" \t")
    return None


def _prepare(text: str, source: str) -> str:
    """Normalise line ends, check characters and tabs, and blank out the document markers."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    started = has_content = ended = False
    for index, line in enumerate(lines):
        number = index + 1
        bad = _BAD_CHAR.search(line)
        if bad:
            raise YamlLiteError(source, number, "character U+%04X is not allowed here; write it as an escape in a double-quoted string"
                                % ord(bad.group()))
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        for marker in ("---", "..."):
            rest = _marker_rest(line, marker)
            if rest is None:
                continue
            if marker == "---" and (started or has_content or ended):
                raise YamlLiteError(source, number, "multiple documents are not supported")
            if rest and not rest.startswith("#"):
                raise YamlLiteError(source, number, "content on the '%s' line is not supported" % marker)
            started = started or marker == "---"
            ended = ended or marker == "..."
            lines[index] = ""
            break
        else:
            if ended:
                raise YamlLiteError(source, number, "content after the document end marker '...' (multiple documents are not supported)")
            if line.startswith("%"):
                raise YamlLiteError(source, number, "directives ('%') are not supported")
            if "\t" in line[:len(line) - len(stripped)]:
                raise YamlLiteError(source, number, "tab character in indentation; indent with spaces")
            has_content = True
    return "\n".join(lines)


def _indentation_message(after_scalar: bool) -> str:
    if after_scalar:
        return "unexpected indentation (multi-line scalars are not supported)"
    return "unexpected indentation"


class _Parser:
    """Recursive-descent reader over the prepared text; ``pos`` is an index into it.

    Block-level methods start at the first character of their node and return
    with ``pos`` at the start of a line (or at the end of the text).
    """

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.pos = 0
        self.line_starts = [0] + [match.end() for match in re.finditer("\n", text)]

    # ------------------------------------------------------------ helpers

    def fail(self, message: str, pos: int | None = None) -> YamlLiteError:
        where = self.pos if pos is None else pos
        return YamlLiteError(self.source, bisect.bisect_right(self.line_starts, where), message)

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def column(self) -> int:
        return self.pos - self.line_starts[bisect.bisect_right(self.line_starts, self.pos) - 1]

    def skip_inline_space(self) -> None:
        while self.peek() in (" ", "\t"):
            self.pos += 1

    def at_line_end(self) -> bool:
        return self.peek() in ("", "\n", "#")

    def end_line(self) -> None:
        """After a complete value: allow spaces and a comment, then step past the line break."""
        self.skip_inline_space()
        char = self.peek()
        if char == "#":
            newline = self.text.find("\n", self.pos)
            self.pos = len(self.text) if newline < 0 else newline
            char = self.peek()
        if char == "\n":
            self.pos += 1
        elif char:
            if char == ":":
                raise self.fail("unexpected ':'; a nested mapping must start on its own line")
            raise self.fail("unexpected %r after the value" % char)

    def next_content_line(self) -> int:
        """From the start of a line, move to the start of the next line holding content.

        Returns that line's indentation, or -1 at the end of the text.
        """
        while self.pos < len(self.text):
            newline = self.text.find("\n", self.pos)
            end = len(self.text) if newline < 0 else newline
            line = self.text[self.pos:end]
            stripped = line.lstrip(" \t")
            if stripped and not stripped.startswith("#"):
                return len(line) - len(stripped)
            self.pos = end + 1
        self.pos = len(self.text)
        return -1

    def is_entry(self, pos: int) -> bool:
        """Whether a block sequence entry (``-`` and a separator) starts at ``pos``."""
        return self.text[pos:pos + 1] == "-" and self.text[pos + 1:pos + 2] in _SEPARATORS

    def refuse_indicator(self, flow: bool) -> None:
        """Raise when the character at ``pos`` cannot start a scalar of this subset."""
        char = self.peek()
        if char in _START_REFUSALS:
            raise self.fail(_START_REFUSALS[char])
        following = self.peek(1)
        separated = following in _SEPARATORS or (flow and following in _FLOW_INDICATORS)
        if char == "-" and separated:
            raise self.fail("a block sequence entry ('- ') is not allowed here")
        if char == "?" and separated:
            raise self.fail("complex mapping keys ('?') are not supported")
        if char == ":" and separated:
            raise self.fail("a mapping key is missing before ':'")
        if char and char in _FLOW_INDICATORS:
            raise self.fail("unexpected %r" % char)

    # ------------------------------------------------------------ scalars

    def plain_text(self, flow: bool) -> str:
        """Scan a plain scalar on the current line and return its text (not resolved to null)."""
        self.refuse_indicator(flow)
        start = end = self.pos
        while True:
            char = self.peek()
            if char in ("", "\n"):
                break
            if char in (" ", "\t"):
                self.skip_inline_space()
                if self.peek() in ("", "\n", "#"):
                    break
                continue
            following = self.peek(1)
            if char == ":" and (following in _SEPARATORS or (flow and following in _FLOW_INDICATORS)):
                break
            if flow and char in ",[]{}?":
                break
            self.pos += 1
            end = self.pos
        self.pos = end
        if end == start:
            raise self.fail("expected a value")
        return self.text[start:end]

    def escape(self) -> str:
        """Decode the backslash escape at ``pos`` inside a double-quoted scalar."""
        start = self.pos
        code = self.peek(1)
        if code in _SIMPLE_ESCAPES:
            self.pos += 2
            return _SIMPLE_ESCAPES[code]
        if code in _HEX_ESCAPES:
            width = _HEX_ESCAPES[code]
            digits = self.text[start + 2:start + 2 + width]
            if len(digits) != width or not set(digits) <= _HEX_DIGITS:
                raise self.fail("escape '\\%s' needs %d hexadecimal digits" % (code, width))
            value = int(digits, 16)
            if value > 0x10FFFF:
                raise self.fail("escape '\\%s%s' is beyond the last Unicode code point" % (code, digits))
            self.pos += 2 + width
            return chr(value)
        if code in ("", "\n"):
            raise self.fail("escaped line breaks (multi-line quoted scalars) are not supported")
        raise self.fail("unknown escape sequence '\\%s'" % code)

    def quoted(self) -> str:
        """Read a single- or double-quoted scalar that ends on the same line."""
        start = self.pos
        quote = self.peek()
        kind = "single" if quote == "'" else "double"
        self.pos += 1
        chunks = []
        while True:
            char = self.peek()
            if char in ("", "\n"):
                raise self.fail("unterminated %s-quoted scalar (quoted scalars must end on the line they start)" % kind, start)
            if char == "\\" and quote == '"':
                chunks.append(self.escape())
                continue
            self.pos += 1
            if char == quote:
                if quote == "'" and self.peek() == "'":
                    self.pos += 1
                    chunks.append("'")
                    continue
                return "".join(chunks)
            chunks.append(char)

    def key_token(self, flow: bool) -> tuple:
        """Read a would-be mapping key: ``(text, plain)``; nothing is checked key-wise yet."""
        if self.peek() in ("'", '"'):
            return self.quoted(), False
        if self.peek() in ("[", "{"):
            raise self.fail("mapping keys must be scalars")
        return self.plain_text(flow), True

    def check_key(self, text: str, plain: bool, pos: int) -> None:
        """Refuse plain keys that YAML would not read as a string key."""
        if plain and text in NULL_WORDS:
            raise self.fail("a mapping key cannot be null (%r); quote it" % text, pos)
        if plain and text == "<<":
            raise self.fail("merge keys ('<<') are not supported", pos)

    # ------------------------------------------------------------ flow collections

    def flow_space(self) -> None:
        """Skip spaces, line breaks and comments inside a flow collection."""
        while True:
            char = self.peek()
            if char in (" ", "\t", "\n"):
                self.pos += 1
            elif char == "#":  # between flow tokens '#' always starts a comment
                newline = self.text.find("\n", self.pos)
                self.pos = len(self.text) if newline < 0 else newline
            else:
                return

    def flow_node(self) -> object:
        char = self.peek()
        if char == "[":
            return self.flow_sequence()
        if char == "{":
            return self.flow_mapping()
        if char in ("'", '"'):
            return self.quoted()
        text = self.plain_text(True)
        return None if text in NULL_WORDS else text

    def flow_next(self, opening: int, closing: str, what: str) -> bool:
        """After an entry: consume ',' (True) or stop before the closing bracket (False)."""
        self.flow_space()
        char = self.peek()
        if char == ",":
            self.pos += 1
            return True
        if char == closing:
            return False
        if not char:
            raise self.fail("unterminated flow %s: missing %r" % (what, closing), opening)
        if char == ":" and what == "sequence":
            raise self.fail("a 'key: value' pair inside '[...]' is not supported; write {key: value}")
        raise self.fail("expected ',' or %r in the flow %s, found %r" % (closing, what, char))

    def flow_sequence(self) -> list:
        opening = self.pos
        self.pos += 1
        result = []
        while True:
            self.flow_space()
            char = self.peek()
            if char == "]":
                self.pos += 1
                return result
            if not char:
                raise self.fail("unterminated flow sequence: missing ']'", opening)
            if char == ",":
                raise self.fail("unexpected ',' (empty entry in a flow sequence)")
            result.append(self.flow_node())
            self.flow_next(opening, "]", "sequence")

    def flow_mapping(self) -> dict:
        opening = self.pos
        self.pos += 1
        result: dict = {}
        lines: dict = {}
        while True:
            self.flow_space()
            char = self.peek()
            if char == "}":
                self.pos += 1
                return result
            if not char:
                raise self.fail("unterminated flow mapping: missing '}'", opening)
            if char == ",":
                raise self.fail("unexpected ',' (empty entry in a flow mapping)")
            key_pos = self.pos
            key, plain = self.key_token(True)
            self.check_key(key, plain, key_pos)
            self.remember_key(key, key_pos, result, lines)
            self.flow_space()
            value = None
            if self.peek() == ":":
                self.pos += 1
                self.flow_space()
                if self.peek() not in (",", "}", ""):
                    value = self.flow_node()
            result[key] = value
            self.flow_next(opening, "}", "mapping")

    # ------------------------------------------------------------ block collections

    def remember_key(self, key: str, pos: int, result: dict, lines: dict) -> None:
        line = bisect.bisect_right(self.line_starts, pos)
        if key in result:
            raise self.fail("duplicate key %r (first on line %d)" % (key, lines[key]), pos)
        lines[key] = line

    def try_block_key(self) -> str | None:
        """If ``key:`` starts at ``pos``, consume it with its colon and return the key; else leave ``pos``."""
        start = self.pos
        if self.peek() in ("[", "{"):
            return None
        key, plain = self.key_token(False)
        self.skip_inline_space()
        if self.peek() == ":" and self.peek(1) in _SEPARATORS:
            self.check_key(key, plain, start)
            self.pos += 1
            return key
        self.pos = start
        return None

    def inline_value(self) -> object:
        """A value on the current line in block context, then the end of that line."""
        if self.peek() in ("[", "{", "'", '"'):
            value = self.flow_node()
        else:
            text = self.plain_text(False)
            value = None if text in NULL_WORDS else text
        self.end_line()
        return value

    def block_node(self, indent: int) -> object:
        """The node starting at ``pos`` (column ``indent``): a sequence, a mapping or a one-line value."""
        if self.is_entry(self.pos):
            return self.block_sequence(indent, compact=False)
        start = self.pos
        if self.try_block_key() is not None:
            self.pos = start
            return self.block_mapping(indent)
        return self.inline_value()

    def nested_value(self, indent: int, in_mapping: bool) -> object:
        """The value of a key or entry whose line ended after its indicator."""
        found = self.next_content_line()
        if found > indent:
            self.pos += found
            return self.block_node(found)
        if in_mapping and found == indent and self.is_entry(self.pos + found):
            self.pos += found
            return self.block_sequence(indent, compact=True)
        return None

    def block_mapping(self, indent: int) -> dict:
        result: dict = {}
        lines: dict = {}
        while True:
            key_pos = self.pos
            key = self.try_block_key()
            if key is None:
                raise self.fail("expected 'key: value' at this indentation")
            self.remember_key(key, key_pos, result, lines)
            self.skip_inline_space()
            inline = not self.at_line_end()
            if not inline:
                self.end_line()
                result[key] = self.nested_value(indent, True)
            else:
                if self.is_entry(self.pos):
                    raise self.fail("a block sequence cannot start on the line of its key")
                result[key] = self.inline_value()
            found = self.next_content_line()
            if found < indent:
                return result
            if found > indent:
                raise self.fail(_indentation_message(inline))
            self.pos += found
            if self.is_entry(self.pos):
                raise self.fail("a sequence entry cannot follow a mapping at the same indentation")

    def block_sequence(self, indent: int, compact: bool) -> list:
        result = []
        while True:
            self.pos += 1
            if self.peek() == "\t":
                raise self.fail("tab character in indentation; indent with spaces")
            while self.peek() == " ":
                self.pos += 1
            if self.at_line_end():
                self.end_line()
                result.append(self.nested_value(indent, False))
                inline = False
            else:
                result.append(self.block_node(self.column()))
                inline = not isinstance(result[-1], (dict, list))
            found = self.next_content_line()
            if found < indent:
                return result
            if found > indent:
                raise self.fail(_indentation_message(inline))
            if not self.is_entry(self.pos + found):
                if compact:
                    return result
                raise self.fail("expected a '- ' sequence entry at this indentation")
            self.pos += found

    def document(self) -> object:
        found = self.next_content_line()
        if found < 0:
            return None
        self.pos += found
        value = self.block_node(found)
        if self.next_content_line() >= 0:
            raise self.fail("unexpected content after the end of the document's top-level value")
        return value


def loads(text: str, source: str) -> object:
    """Parse ``text`` (one document of the supported subset) into dict/list/str/None.

    ``source`` names the file in error messages.  An empty document is ``None``.
    Raises :class:`YamlLiteError` for anything outside the subset.
    """
    return _Parser(_prepare(text, source), source).document()


def _quote(text: str) -> str:
    """``text`` as a double-quoted scalar that PyYAML and :func:`loads` both decode to ``text``."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _DUMP_ESCAPES:
            out.append(_DUMP_ESCAPES[char])
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            out.append("\\x%02x" % code)
        elif 0xD800 <= code <= 0xDFFF or code in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF):
            out.append("\\u%04x" % code)
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _scalar(text: str) -> str:
    if _SAFE_PLAIN.match(text) and text.lower() not in _RESERVED_WORDS:
        return text
    return _quote(text)


def _inline(value: object) -> str | None:
    """The one-line form of a scalar or empty collection; None for a non-empty collection."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return _scalar(value)
    if isinstance(value, dict):
        return None if value else "{}"
    if isinstance(value, list):
        return None if value else "[]"
    raise TypeError("dumps() accepts only str, None, dict and list, not %s" % type(value).__name__)


def _block(value: object, indent: int, lines: list) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("dumps() accepts only str mapping keys, not %s" % type(key).__name__)
            inline = _inline(item)
            if inline is None:
                lines.append("%s%s:" % (pad, _scalar(key)))
                _block(item, indent + 2, lines)
            else:
                lines.append("%s%s: %s" % (pad, _scalar(key), inline))
        return
    for item in value:  # a list
        inline = _inline(item)
        if inline is None:
            first = len(lines)
            _block(item, indent + 2, lines)
            lines[first] = "%s- %s" % (pad, lines[first][indent + 2:])
        else:
            lines.append("%s- %s" % (pad, inline))


def dumps(data: object) -> str:
    """Write ``data`` (str, None, dict and list only) as block YAML ending with a newline.

    Mappings keep their insertion order.  Raises ``TypeError`` for any other type
    (pass numbers and booleans as strings).
    """
    inline = _inline(data)
    if inline is not None:
        return inline + "\n"
    lines: list = []
    _block(data, 0, lines)
    return "\n".join(lines) + "\n"
