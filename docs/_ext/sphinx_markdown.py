"""A griffe extension that lets mkdocstrings render creditcore's docstrings, which are written
for Sphinx readers (reST roles, ``::`` literal blocks, ``>>>`` sessions), as Markdown.

mkdocs.yml loads it (``extensions:`` of the Python handler) and keeps it out of the published site
(``exclude_docs``); ``tests/docs/test_sphinx_markdown.py`` pins it.

- ``:class:`Tier``` (any role, ``~`` for the last name only, ``title <target>`` for a title)
  becomes an *optional* cross-reference: a link where the target is in the API reference, plain
  code where it is not (an optional reference never fails ``mkdocs build --strict``). A relative
  name is looked up on the docstring's classes, its module and the packages above it, and the
  reference goes to where the name is defined (an import is followed).
- A ``>>>`` session at the docstring's left margin becomes a fenced ``pycon`` block (Markdown
  would read ``>>>`` as three nested quotes).
- A paragraph ending in ``::`` ends in ``:``; the indented block after it is a code block in
  Markdown as it is in reST.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const|type):`(?P<body>[^`]+)`")
TITLED = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$")


def candidates(target: str, scopes: tuple[str, ...]) -> list[str]:
    """Where a role's target may be, in the order Sphinx would look: on the docstring's classes,
    its module and the packages above it (for a name relative to them), then as written."""
    if target.startswith("creditcore."):
        return [target]
    name = target.lstrip(".")
    found = [f"{scope}.{name}" for scope in scopes]
    module = scopes[-1] if scopes else ""
    while "." in module:
        module = module.rsplit(".", 1)[0]
        found.append(f"{module}.{name}")
    if "." in name:
        found.append(name)
    return found


def reference(body: str, scopes: tuple[str, ...], exists: Callable[[str], str | None]) -> str:
    """The Markdown (inline HTML) for one role's body: an optional cross-reference to the first
    place the target is found (``exists`` gives its canonical path), else to where it was
    looked for first."""
    titled = TITLED.match(body)
    if titled:
        title, target = titled["title"], titled["target"]
    else:
        target = body
        title = body.lstrip("~.").rsplit(".", 1)[-1] if body.startswith("~") else body.lstrip(".")
    target = target.lstrip("~").removesuffix("()")
    places = candidates(target, scopes)
    identifier = next((path for path in map(exists, places) if path), places[0])
    return f'<autoref identifier="{html.escape(identifier)}" optional><code>{html.escape(title)}</code></autoref>'


def scopes_of(obj: griffe.Object) -> tuple[str, ...]:
    """The classes around ``obj`` (itself included), innermost first, then its module."""
    found: list[str] = []
    owner: Any = obj
    while owner is not None:
        if owner.is_class:
            found.append(owner.path)
        if owner.is_module:
            found.append(owner.path)
            break
        owner = owner.parent
    return tuple(found)


def markdown(text: str, scopes: tuple[str, ...], exists: Callable[[str], str | None] = lambda path: None) -> str:
    """A docstring's text, dedented as griffe keeps it, rewritten as Markdown."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(">>>"):
            session = []
            while i < len(lines) and lines[i].strip():
                session.append(lines[i])
                i += 1
            if out and out[-1].strip():
                out.append("")
            out.extend(["```pycon", *session, "```"])
            continue
        stripped = line.rstrip()
        if stripped.endswith("::") and not stripped.endswith(":::"):
            stripped = stripped[:-2].rstrip()
            line = f"{stripped}:" if stripped else ""
        out.append(ROLE.sub(lambda match: reference(match["body"], scopes, exists), line))
        i += 1
    return "\n".join(out)


def walk(obj: griffe.Object) -> Iterator[griffe.Object]:
    """``obj`` and everything defined in it (imports left out: they are documented where they
    are defined)."""
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from walk(member)


class SphinxToMarkdown(griffe.Extension):
    """Rewrites every docstring as it is loaded (see the module's docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        def exists(path: str) -> str | None:
            head, _, rest = path.partition(".")
            if head != pkg.name or not rest:
                return pkg.path if path == pkg.path else None
            try:
                found = pkg.get_member(rest)
                return str(found.final_target.path if found.is_alias else found.path)
            except Exception:  # a name that is not there, or an import griffe cannot follow
                return None

        for obj in walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = markdown(obj.docstring.value, scopes_of(obj), exists)
