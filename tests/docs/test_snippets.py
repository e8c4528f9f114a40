"""Every Python example in README.md and docs/**/*.md runs, so none of them can rot.

One test per page: the page's ```python blocks run in order in one namespace, in a fresh working
directory (with the repository's ``examples/`` beside it), as a reader pasting them one after
another would run them. A block whose first line starts with ``>>>`` is a doctest: its printed
output is checked. A block preceded by ``<!-- skip: reason -->`` does not run (say why).

PostgreSQL examples connect to ``postgresql://app@db/ledger``; here that text is replaced by
the DSN of a fresh database on the test suite's server (``postgres_dsn``, tests/conftest.py),
which is started only for a page that needs it.
"""

from __future__ import annotations

import doctest
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from creditcore import Ledger

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PLACEHOLDER_DSN = "postgresql://app@db/ledger"

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^\n`]*)$")
SKIP = re.compile(r"^\s*<!--\s*skip:\s*(?P<reason>\S.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced ```python block of a page."""

    page: str
    line: int  # the line of its first line of code, counted from 1
    code: str
    skip: str | None  # why it does not run, or None

    @property
    def is_doctest(self) -> bool:
        return self.code.lstrip().startswith(">>>")


def blocks_of(text: str, page: str) -> list[Block]:
    """The ```python blocks of a Markdown page, in order (a fence may be indented, as in a list)."""
    lines = text.splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence, info = opening["indent"], opening["fence"], opening["info"].strip()
        start = i + 1
        end = start
        while end < len(lines) and not (
            lines[end].strip().startswith(fence) and lines[end].strip().strip(fence[0]) == ""
        ):
            end += 1
        if info.split(" ")[0] in ("python", "py"):
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            skipped = SKIP.match(before)
            code = "\n".join(line.removeprefix(indent) for line in lines[start:end]) + "\n"
            found.append(Block(page, start + 1, code, skipped["reason"] if skipped else None))
        i = end + 1
    return found


NAMES = [page.relative_to(ROOT).as_posix() for page in PAGES]
PAGE_BLOCKS = {name: blocks_of(page.read_text(), name) for name, page in zip(NAMES, PAGES, strict=True)}


def run_block(block: Block, namespace: dict[str, object]) -> None:
    """Run one block in the page's namespace; a doctest block must print what it shows."""
    if block.is_doctest:
        test = doctest.DocTestParser().get_doctest(block.code, namespace, block.page, block.page, block.line - 1)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        report: list[str] = []
        runner.run(test, out=report.append, clear_globs=False)
        namespace.update(test.globs)  # a DocTest runs in a copy of the namespace it is given
        if runner.failures:
            pytest.fail(f"{block.page}, line {block.line}: the example's output differs:\n{''.join(report)}")
        return
    # pad with blank lines so that a traceback names the line of the Markdown file
    exec(compile("\n" * (block.line - 1) + block.code, block.page, "exec"), namespace)


@pytest.mark.parametrize("page", [page for page, found in PAGE_BLOCKS.items() if found])
def test_the_examples_of_the_page_run(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    blocks = PAGE_BLOCKS[page]
    dsn = None
    if any(PLACEHOLDER_DSN in block.code for block in blocks if block.skip is None):
        dsn = request.getfixturevalue("postgres_dsn")
    namespace: dict[str, object] = {"__name__": "__main__"}
    try:
        for block in blocks:
            if block.skip is None:
                if dsn is not None:
                    block = Block(block.page, block.line, block.code.replace(PLACEHOLDER_DSN, dsn), None)
                run_block(block, namespace)
    finally:
        for value in namespace.values():  # the page's ledgers: leave no file or connection open
            if isinstance(value, Ledger):
                value.close()


def test_every_page_with_code_has_a_test() -> None:
    """A page whose blocks could not be found would pass for the wrong reason: the README's
    and the guides' examples are there."""
    assert PAGE_BLOCKS["README.md"], "README.md has no ```python block"
    assert sum(len(found) for found in PAGE_BLOCKS.values()) >= 40


def test_a_skipped_block_says_why() -> None:
    for found in PAGE_BLOCKS.values():
        for block in found:
            assert block.skip is None or len(block.skip) >= 8, f"{block.page}:{block.line}: say why it is skipped"


def test_the_runner_reads_fences_markers_and_doctests() -> None:
    found = blocks_of(
        "text\n```python\nx = 1\n```\n\n<!-- skip: needs a server -->\n\n```python\ny = 2\n```\n"
        "- a list\n\n    ```python\n    >>> x + 1\n    2\n    ```\n```bash\nls\n```\n",
        "page.md",
    )
    assert [(b.line, b.code, b.skip, b.is_doctest) for b in found] == [
        (3, "x = 1\n", None, False),
        (9, "y = 2\n", "needs a server", False),
        (14, ">>> x + 1\n2\n", None, True),
    ]
    namespace: dict[str, object] = {}
    run_block(found[0], namespace)
    run_block(found[2], namespace)
    with pytest.raises(pytest.fail.Exception, match="output differs"):
        run_block(Block("page.md", 1, ">>> x\n2\n", None), namespace)


LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def slug(heading: str) -> str:
    """The anchor MkDocs (and GitHub) give a heading: lower case, punctuation dropped, spaces as
    hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def test_the_readme_links_point_at_pages_and_headings_that_exist() -> None:
    """The README is not part of the site (``mkdocs build --strict`` does not check it): its
    links into docs/ are checked here, anchors included."""
    for match in LINK.finditer((ROOT / "README.md").read_text()):
        target = match["target"]
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        assert (ROOT / path).is_file(), f"README.md links to {path}, which does not exist"
        if anchor:
            headings = [line.lstrip("#") for line in (ROOT / path).read_text().splitlines() if line.startswith("#")]
            assert anchor in map(slug, headings), f"README.md links to {target}: no such heading"


def test_slugs_follow_mkdocs() -> None:
    assert slug(" Time and due events") == "time-and-due-events"
    assert slug(" Batches: `atomic()`") == "batches-atomic"
