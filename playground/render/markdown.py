"""User text made safe for Markdown and HTML: shown as the characters typed, never as markup.

Escaping HTML alone is not enough where text goes through Markdown: `![x](http://host/beacon)`
would become an image request to another host, `[sign in](http://host)` a live link. Gradio's
Markdown is `marked` with GitHub's extensions (tables, strikethrough, autolinks) and `$$` for
LaTeX, so after HTML's escaping every character that opens markup anywhere in a line is
backslash-escaped (CommonMark shows an escaped punctuation character as itself); `- + = .` and a
number's dot only where they open a list, a heading or a rule (at the start of a line); and the
autolinker's triggers, `://`, `www.` and an e-mail's `@`, are broken with an escape as well.
"""

from __future__ import annotations

import html
import re

_ANYWHERE = re.compile(r"([\\`*_{}\[\]()#!|~$])")  # code, emphasis, links, images, tables, headings, LaTeX
_LINE_START = re.compile(r"(?:^|(?<=[\r\n]))([ \t]*\d*)([-+=.])")  # a list item ("- ", "1. "), a rule, a heading's underline
_BULLET = re.compile(r"[ \t]*- ")
_AUTOLINK = re.compile(r"(?i):(?=//)|(?<=www)\.|@")  # what marked's GFM autolinker looks for


def text(value: object) -> str:
    """`value` as literal text inside Markdown (and the HTML it becomes)."""
    escaped = _ANYWHERE.sub(r"\\\1", html.escape(str(value), quote=False))
    escaped = _LINE_START.sub(r"\1\\\2", escaped)
    return _AUTOLINK.sub(lambda m: "\\" + m.group(), escaped)


def item(line: str) -> str:
    """A line of ours that may open with a list bullet ("- ", "    - ") before user text: the
    bullet kept, the rest escaped (`text`)."""
    bullet = _BULLET.match(line)
    cut = bullet.end() if bullet else 0
    return line[:cut] + text(line[cut:])


def code(value: object) -> str:
    """`value` as a Markdown code span: literal, whatever it holds (a fence longer than any run of
    backticks inside it)."""
    value = str(value).replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    padded = f" {value} " if value.startswith("`") or value.endswith("`") else value
    return f"{fence}{padded}{fence}"
