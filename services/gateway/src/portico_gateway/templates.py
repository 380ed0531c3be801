"""Path templates of `google.api.http` rules, compiled to regular expressions.

The grammar (google/api/http.proto): `{field}` binds one segment, `{field=pattern}` binds
what the pattern matches (`*` one segment, `**` any number), and `:verb` ends the path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

from portico_gateway.errors import TemplateSyntaxError

_SINGLE = "[^/]+"
# `**` may match zero segments (google/api/http.proto), hence `*` not `+`.
_MULTI = ".*"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A compiled `google.api.http` path template such as `/v1/{name=tenants/*}:verify`."""

    template: str
    regex: re.Pattern[str]
    #: Field paths bound by the variables, in the order their groups appear.
    variables: tuple[str, ...]
    verb: str
    literal_segments: int
    has_multi: bool

    def match(self, path: str) -> dict[str, str] | None:
        """Return the bound field values (percent-decoded) when `path` matches."""
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        return {
            variable: unquote(found.group(f"v{index}"), errors="strict")
            for index, variable in enumerate(self.variables)
        }


def parse_template(template: str) -> PathTemplate:
    """Compile a path template per the grammar in google/api/http.proto."""
    if not template.startswith("/"):
        raise TemplateSyntaxError(template, "must start with '/'")
    body, verb = _split_verb(template)
    variables: list[str] = []
    parts: list[str] = []
    literals = 0
    has_multi = False
    for segment in _split_top_level(body[1:], template):
        if segment.startswith("{"):
            if not segment.endswith("}"):
                raise TemplateSyntaxError(template, f"unterminated variable {segment!r}")
            name, _, pattern = segment[1:-1].partition("=")
            if not _IDENT.fullmatch(name):
                raise TemplateSyntaxError(template, f"bad field path {name!r}")
            sub = pattern.split("/") if pattern else ["*"]
            has_multi = has_multi or "**" in sub
            regex = "/".join(_segment_regex(part, template) for part in sub)
            parts.append(f"(?P<v{len(variables)}>{regex})")
            variables.append(name)
        else:
            literals += segment not in {"*", "**"}
            has_multi = has_multi or segment == "**"
            parts.append(_segment_regex(segment, template))
    suffix = ":" + re.escape(verb) if verb else ""
    return PathTemplate(
        template=template,
        regex=re.compile("/" + "/".join(parts) + suffix),
        variables=tuple(variables),
        verb=verb,
        literal_segments=literals,
        has_multi=has_multi,
    )


def _split_verb(template: str) -> tuple[str, str]:
    # The verb is a ':' outside any variable, after the last '/'; a ':' inside
    # `{...}` or an earlier segment is part of the path itself.
    depth = 0
    colon = -1
    for index, char in enumerate(template):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0 and char == "/":
            colon = -1
        elif depth == 0 and char == ":":
            colon = index
    if depth != 0:
        raise TemplateSyntaxError(template, "unbalanced braces")
    if colon == -1:
        return template, ""
    verb = template[colon + 1 :]
    if not verb or "/" in verb:
        raise TemplateSyntaxError(template, "empty verb")
    return template[:colon], verb


def _split_top_level(path: str, template: str) -> Iterator[str]:
    depth = 0
    start = 0
    for index, char in enumerate(path):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "/" and depth == 0:
            yield _non_empty(path[start:index], template)
            start = index + 1
    yield _non_empty(path[start:], template)


def _non_empty(segment: str, template: str) -> str:
    if not segment:
        raise TemplateSyntaxError(template, "empty path segment")
    return segment


def _segment_regex(segment: str, template: str) -> str:
    if segment == "*":
        return _SINGLE
    if segment == "**":
        return _MULTI
    if any(char in segment for char in "{}=*"):
        raise TemplateSyntaxError(template, f"bad segment {segment!r}")
    return re.escape(segment)
