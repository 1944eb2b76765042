"""Model prose (responses, narration, subagent prompts and reports, plans) as Markdown.

markdown-it-py (CommonMark, maintained) with raw HTML disabled: a `<script>` in a response is
escaped text, never markup. Images are not rendered (no request to wherever a transcript points);
links keep markdown-it's URL check (no `javascript:`, `vbscript:`, `file:`, `data:`) and open in a
new tab without a referrer. Fenced code goes through Pygments (`Highlighter`), which escapes and
uses classes only, so the strict CSP holds. Tables are on; nothing else beyond CommonMark.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

# Beyond this many characters a text is shown as escaped plain prose (parsing is linear, but
# a megabyte of Markdown would still cost a render budget better spent elsewhere).
MARKDOWN_MAX_CHARS = 200_000


class Markdown:
    """One per app (building the parser is not free); each render passes its Highlighter."""

    def __init__(self) -> None:
        md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
        md.enable("table").enable("strikethrough")
        md.disable("image")
        md.add_render_rule("fence", _render_fence)
        md.add_render_rule("code_block", _render_fence)
        md.add_render_rule("link_open", _render_link_open)
        self._md = md

    def render(self, text: str, highlighter: Any) -> Markup:
        """`highlighter` (a highlight.Highlighter) colours fenced code within its budget."""
        if len(text) > MARKDOWN_MAX_CHARS:
            return Markup('<div class="prose plain">') + escape(text) + Markup("</div>")
        return (
            Markup('<div class="prose md">')
            + Markup(self._md.render(text, {"highlighter": highlighter}))
            + Markup("</div>")
        )


def _render_fence(_r: Any, tokens: Sequence[Token], idx: int, _o: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    language = token.info.strip().split(" ", 1)[0] if token.info else None
    code = env["highlighter"].by_language(token.content, language or None)
    return (
        f'<div class="code-block"><button type="button" class="copy" data-copy-code>copy</button>{code}</div>'
    )


def _render_link_open(_r: Any, tokens: Sequence[Token], idx: int, _o: OptionsDict, _env: EnvType) -> str:
    token = tokens[idx]
    href = str(token.attrGet("href") or "")
    # markdown-it has already refused links whose scheme is unsafe (they stay text).
    return f'<a class="md-link" href="{escape(href)}" rel="noopener noreferrer nofollow" target="_blank">'
