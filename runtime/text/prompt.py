"""Prompt weight syntax (spec §8.9): `(text)` ×1.1 per nesting level, `(text:1.3)` absolute, `\\(` `\\)` literal."""

from __future__ import annotations

EMPHASIS = 1.1
# escaped parentheses travel through parsing as private characters
_ESCAPES = (("\\(", "\x00\x01"), ("\\)", "\x00\x02"))


def escape(text: str) -> str:
    for literal, private in _ESCAPES:
        text = text.replace(literal, private)
    return text


def unescape(text: str) -> str:
    for literal, private in _ESCAPES:
        text = text.replace(private, literal[1])
    return text


def top_level_groups(text: str) -> list[str]:
    """Split into plain runs and balanced top-level `( … )` groups; an unclosed `(` stays plain text."""
    groups: list[str] = []
    current, depth = "", 0
    for char in text:
        if char == "(":
            if depth == 0 and current:
                groups.append(current)
                current = ""
            depth += 1
        elif char == ")" and depth > 0:
            depth -= 1
            if depth == 0:
                groups.append(current + char)
                current = ""
                continue
        current += char
    if current:
        groups.append(current)
    return groups


def _weighted(text: str, weight: float) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for group in top_level_groups(text):
        if len(group) >= 2 and group[0] == "(" and group[-1] == ")":
            inner, inner_weight = group[1:-1], weight * EMPHASIS
            colon = inner.rfind(":")
            if colon > 0:
                try:
                    inner_weight = float(inner[colon + 1:])
                    inner = inner[:colon]
                except ValueError:
                    pass  # not a number: keep the colon as text and the ×1.1
            out += _weighted(inner, inner_weight)
        else:
            out.append((group, weight))
    return out


def parse_weights(text: str) -> list[tuple[str, float]]:
    """`"a (b:1.5) c"` → `[("a ", 1.0), ("b", 1.5), (" c", 1.0)]`; escaped parentheses come back as literals."""
    return [(unescape(part), weight) for part, weight in _weighted(escape(text), 1.0)]
