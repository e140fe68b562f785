"""Text that comes from data or from a link is shown as text, never as markup.

Streamlit renders st.warning, st.caption, st.info, st.markdown and friends as Markdown, with its own
additions (`:red[...]` colours, `:material/...:` icons, emoji shortcodes, `$...$` KaTeX) and GitHub's
autolinks for bare URLs. A market named `[Session expired](http://evil.example/login)` in the store,
or a link's `?market=...`, would otherwise become a clickable link inside a trusted-looking notice,
and an image in Markdown would make every viewer's browser fetch an outside address.
"""

from __future__ import annotations

import re

# What makes Markdown inline markup (links, images, emphasis, code, HTML, entities) and Streamlit's
# additions (":" directives and icons, "$" KaTeX); escaping a character with a backslash is always
# allowed for ASCII punctuation. Dates, hyphens and dots stay as they are, so texts read normally,
# except at the start, where "-", "+", "#", ">" or "1." would begin a list, heading or quote.
_MARKUP = re.compile(r"([\\`*_{}\[\]()<>!|~:$&])")
_BLOCK_START = re.compile(r"^([-+#>]|\d+(?=[.)]))")
# GitHub's autolinks ignore escapes: a bare URL, www. or e-mail address still becomes a link. An
# invisible word joiner (U+2060) after the scheme and before "@" keeps them text.
_AUTOLINK = re.compile(r"(?i)(https?|ftp|mailto|www)(?=\\?[:.])|(?=@)")
WORD_JOINER = "\u2060"


def plain(value: object) -> str:
    """`value` as text that Streamlit's Markdown shows as written (line breaks become spaces; a URL or
    e-mail address gets an invisible word joiner so it is not turned into a link)."""
    text = _MARKUP.sub(r"\\\1", " ".join(str(value).split()))
    text = _BLOCK_START.sub(_inert_start, text)
    return _AUTOLINK.sub(lambda found: found.group(0) + WORD_JOINER, text)


def _inert_start(found: re.Match[str]) -> str:
    """`- x` or `1. x` at the start: escape the marker (after the digits of a number)."""
    token = found.group(0)
    return token + "\\" if token.isdigit() else "\\" + token


LIST_LIMIT = 10  # a notice names this many items at most: with hundreds of markets it would fill the page


def listed(values, limit: int | None = LIST_LIMIT, shown=str) -> str:
    """Values separated by commas, the first `limit` of them then "and K more" (`shown` turns each into text)."""
    values = list(values)
    named = ", ".join(shown(v) for v in values[:limit])
    return named if limit is None or len(values) <= limit else f"{named} and {len(values) - limit:,} more"


def plain_list(values, limit: int | None = None) -> str:
    """Several values, each escaped, separated by commas (the first `limit`, then "and K more")."""
    return listed(values, limit, plain)
