"""Texts experimenters write (instructions, consent, block introductions) as participants
read them. No Django here."""

from __future__ import annotations

import re


def gettext_noop(message: str) -> str:
    """Marks a participant-facing text for translation catalogues (Django's makemessages
    finds it by this name) without importing Django: the pure modules keep English, and
    the participant pages translate it into the study's language when they show it."""
    return message


_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def paragraphs(text: str) -> list[str]:
    """Paragraphs separated by blank lines, each reflowed into one line: a TOML string or a
    textarea wrapped at 80 columns reads as running text on any screen, not as a poem. A
    line that starts a list item ("- " or "* " or "1. ") keeps its own line."""
    result = []
    for chunk in _BLANK_LINE.split(text.replace("\r\n", "\n").strip()):
        lines = [line.strip() for line in chunk.split("\n") if line.strip()]
        if not lines:
            continue
        joined = [lines[0]]
        for line in lines[1:]:
            if re.match(r"([-*]|\d+[.)])\s", line):
                joined.append("\n" + line)
            else:
                joined.append(" " + line)
        result.append("".join(joined))
    return result
