"""Text from input files or the command line, made safe to print on a terminal."""

from __future__ import annotations


def printable(text: str) -> str:
    """`text` with every character that is not printable (control characters, ANSI escapes, NUL,
    zero-width and other invisible format characters) written as a Python escape like `\\x1b` or
    `\\u200b`, so a message shows exactly what the data holds and a terminal never acts on it.
    Ordinary spaces stay; a newline or tab inside a value is escaped too."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def printable_lines(text: str) -> str:
    """Like `printable`, keeping the line breaks between lines (for multi-line messages)."""
    return "\n".join(printable(line) for line in text.split("\n"))
