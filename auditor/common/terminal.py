"""Lines a terminal shows rather than acts on."""

from __future__ import annotations

import re
import unicodedata

# What a terminal would act on, or would show as something it is not, rather than show: every
# character of the Unicode categories Cc (C0 and C1 controls, DEL), Cf (format: the bidirectional
# marks and overrides that reorder what is shown, zero-width characters, U+FEFF, the tag
# characters U+E0001..U+E007F), Zl and Zp (the line and paragraph separators some terminals and
# every `splitlines` break lines at), and Cs (a lone surrogate, which no output can encode).
# Decided by the category, never by a list, so a character the next Unicode version adds to a
# category is escaped too.
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

# Only characters outside printable ASCII can be escaped: the scan stops at runs of those (one
# linear regular expression), and each character's category is looked up once.
_CANDIDATES = re.compile(r"\r(?!\n)|[^\t\n\r\x20-\x7e]+")  # a multi-line text: tab, newline, CRLF kept
_CANDIDATES_ONE_LINE = re.compile(r"[^\x20-\x7e]+")
_SPELLED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_MEMO: dict[str, str] = {}


def _escape(char: str) -> str:
    """The JSON spelling of a character (`\\u001b`, `\\u202e`; past the first plane its two
    surrogates, `\\udb40\\udc01` for U+E0001): a value escaped inside a JSON text is still valid
    JSON, and means the same."""
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _shown(char: str) -> str:
    """How one character outside printable ASCII is shown (memoised)."""
    shown = _MEMO.get(char)
    if shown is None:
        shown = _SPELLED.get(char) or (_escape(char) if unicodedata.category(char) in ESCAPED_CATEGORIES else char)
        if len(_MEMO) < 65536:  # a text of every code point cannot grow it without end
            _MEMO[char] = shown
    return shown


def _run(match: re.Match) -> str:
    return "".join(map(_shown, match[0]))


def printable(text: str, newlines: bool = True) -> str:
    """`text` with every control, format and separator character shown escaped (`\\u001b`,
    `\\u202e`, `\\r`), for a terminal. With `newlines` (a multi-line text: a table, a summary) a newline
    and a tab are kept, and a carriage return that ends a CRLF line; `newlines=False` for what
    must stay one line (an error, a table cell), so data cannot forge a second line."""
    return (_CANDIDATES if newlines else _CANDIDATES_ONE_LINE).sub(_run, text)
