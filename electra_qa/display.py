"""Rich display in notebooks: HTML for answers, top-k lists, token heat-maps and summaries (escaped, no scripts).

Plain functions over plain values (strings, numbers, lists of rows); the classes' ``_repr_html_`` methods call them.
"""

from __future__ import annotations

import html

CONTEXT_CHARS = 300  # characters of context shown around an answer (each side gets half)
_STYLE = "font-family: sans-serif; line-height: 1.5"


class Raw(str):
    """A table cell that is HTML already (built from escaped parts), put in as it is."""


def _esc(value) -> str:
    if isinstance(value, Raw):
        return str(value)
    return html.escape(str(value), quote=True)


def context_window(context: str, start: int, end: int, chars: int = CONTEXT_CHARS) -> tuple[str, str, str, bool, bool]:
    """(before, answer, after, trimmed left, trimmed right): ``context`` cut to about ``chars`` characters around
    [start, end); the answer itself is never cut."""
    half = chars // 2
    left, right = max(0, start - half), min(len(context), end + half)
    return context[left:start], context[start:end], context[end:right], left > 0, right < len(context)


def answer_html(text: str, start: int, end: int, score: float, reason: str | None, context: str | None) -> str:
    """The answer highlighted in its context (trimmed with ellipses), with its score; an empty answer says why."""
    if reason is not None:
        return f'<div style="{_STYLE}"><b>No answer</b> (score {score:.3f}): {_esc(reason)}</div>'
    head = f'<div style="{_STYLE}"><b>{_esc(text)}</b> &nbsp;<small>score {score:.3f}, characters {start}-{end}</small>'
    if context is None:
        return head + "</div>"
    before, answer, after, cut_left, cut_right = context_window(context, start, end)
    body = (
        ("&hellip;" if cut_left else "")
        + _esc(before)
        + '<mark style="background: #ffe066">'
        + _esc(answer)
        + "</mark>"
        + _esc(after)
        + ("&hellip;" if cut_right else "")
    )
    return f'{head}<div style="margin-top: 4px; color: #333">{body}</div></div>'


def table_html(header: list[str], rows: list[list], caption: str | None = None) -> str:
    """A plain HTML table of escaped cells."""
    cap = f"<caption style='text-align: left'>{_esc(caption)}</caption>" if caption else ""
    head = "".join(f"<th style='text-align: left'>{_esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align: left'>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def heatmap_html(
    context: str, spans: list[tuple[int, int]], start: list[float], end: list[float], caption: str = ""
) -> str:
    """The context with each token shaded by its start (green) and end (blue) probability; hover for numbers."""
    parts, pos = [], 0
    top = max(max(start, default=0.0), max(end, default=0.0), 1e-12)
    for (s, e), ps, pe in zip(spans, start, end):
        if s < pos:
            continue
        parts.append(_esc(context[pos:s]))
        g, b = ps / top, pe / top
        style = f"background: linear-gradient(to bottom, rgba(64,192,87,{g:.3f}) 50%, rgba(51,154,240,{b:.3f}) 50%)"
        parts.append(f'<span title="start {ps:.3f}, end {pe:.3f}" style="{style}">{_esc(context[s:e])}</span>')
        pos = e
    parts.append(_esc(context[pos:]))
    legend = (
        "<small>upper half: start probability (green), lower half: end probability (blue); "
        "hover a token for the numbers</small>"
    )
    cap = f"<div><b>{_esc(caption)}</b></div>" if caption else ""
    return f'<div style="{_STYLE}">{cap}<div>{"".join(parts)}</div>{legend}</div>'
