"""User text made safe for Markdown and HTML: shown as the characters typed, never as markup.

Escaping HTML alone is not enough where text goes through Markdown: `![x](http://host/beacon)`
would become an image request to another host, `[sign in](http://host)` a live link. Every
character that can open Markdown markup (links, images, emphasis, code, tables, headings) is
backslash-escaped after HTML's; bare URLs are broken so the renderer's autolinker does not pick
them up. Dots, dashes and plus signs stay as they are: mid-line they mean nothing.
"""

from __future__ import annotations

import html
import re

_MARKDOWN = re.compile(r"([\\`*_\[\]()!|~#])")  # what can start a link, an image, emphasis, code, a table, a heading
_URL = re.compile(r"(?i)\b(https?|ftp|www)(:|\.)")


def text(value: object) -> str:
    """`value` as literal text inside Markdown (and the HTML it becomes)."""
    escaped = _MARKDOWN.sub(r"\\\1", html.escape(str(value), quote=False))
    return _URL.sub(lambda m: f"{m.group(1)}&#8203;{m.group(2)}", escaped)


def code(value: object) -> str:
    """`value` as a Markdown code span: literal, whatever it holds (a fence longer than any run of
    backticks inside it)."""
    value = str(value).replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    padded = f" {value} " if value.startswith("`") or value.endswith("`") else value
    return f"{fence}{padded}{fence}"
