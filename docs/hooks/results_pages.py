"""MkDocs hook: the results as pages, read from runs/ when the site is built (nothing copied
into git).

runs/RESULTS.md becomes results/RESULTS.md, and every file it links to inside runs/ comes along
at the same relative path under results/ (figures, and the notes it cites, which are pages too,
reachable from the results but not in the navigation), so its relative links work unchanged.
A link to a folder, or to a file outside runs/, has no page on the site: it is shown as its
text. A link to a file that does not exist is left alone, so the strict build fails on it.
The site's own pages may link any file under runs/ as results/<its path in runs/> (a figure that
RESULTS does not show, say); it is brought in the same way.
"""
from __future__ import annotations

import posixpath
import re
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mkdocs.structure.files import File, Files

SOURCE = "runs"
ENTRY = "RESULTS.md"
SITE_FOLDER = "results"
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)((?:\s+\"[^\"]*\")?)\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def _is_local(target: str) -> bool:
    return not (target.startswith(("#", "/", "mailto:")) or "://" in target)


def rewrite_links(text: str, folder: Path, root: Path, found: list[Path]) -> str:
    """`text` with links to folders or outside `root` reduced to their text; the files inside
    `root` it links to are appended to `found`. Code blocks are left as they are."""
    def fix(match: re.Match) -> str:
        bang, label, target, title = match.groups()
        if not _is_local(target):
            return match.group(0)
        path = (folder / target.split("#", 1)[0]).resolve()
        inside = path == root or root in path.parents
        if inside and path.is_file():
            found.append(path)
            return match.group(0)
        if not path.exists() and inside:
            return match.group(0)  # a broken link: the strict build reports it
        return label if not bang else match.group(0)

    out, in_code = [], False
    for line in text.splitlines(keepends=True):
        if FENCE.match(line):
            in_code = not in_code
        out.append(line if in_code else LINK.sub(fix, line))
    return "".join(out)


def results_files(root: Path, config, wanted: list[Path]) -> list[File]:
    """RESULTS.md, the `wanted` files, and everything inside `root` that they link to,
    transitively through the Markdown files among them."""
    from mkdocs.structure.files import File, InclusionLevel

    made: list[File] = []
    queue = deque(dict.fromkeys([root / ENTRY, *wanted]))
    seen = set(queue)
    while queue:
        path = queue.popleft()
        relative = path.relative_to(root).as_posix()
        if path.suffix != ".md":
            made.append(File.generated(config, f"{SITE_FOLDER}/{relative}", abs_src_path=str(path)))
            continue
        found: list[Path] = []
        text = rewrite_links(path.read_text(encoding="utf-8"), path.parent, root, found)
        entry = path == root / ENTRY
        made.append(File.generated(
            config, f"{SITE_FOLDER}/{relative}", content=text,
            inclusion=InclusionLevel.INCLUDED if entry else InclusionLevel.NOT_IN_NAV))
        for linked in found:
            if linked not in seen:
                seen.add(linked)
                queue.append(linked)
    return made


def linked_from_pages(files: Files, root: Path) -> list[Path]:
    """The files under `root` that the site's own pages link to as results/<path>."""
    wanted = []
    for page in files.documentation_pages():
        folder = posixpath.dirname(page.src_uri)
        for _, _, target, _ in LINK.findall(page.content_string):
            if not _is_local(target):
                continue
            site_path = posixpath.normpath(posixpath.join(folder, target.split("#", 1)[0]))
            if site_path.startswith(SITE_FOLDER + "/"):
                path = (root / site_path[len(SITE_FOLDER) + 1:]).resolve()
                if path.is_file() and root in path.parents:
                    wanted.append(path)
    return wanted


def on_files(files: Files, config) -> Files:
    root = (Path(config.config_file_path).parent / SOURCE).resolve()
    for file in results_files(root, config, linked_from_pages(files, root)):
        files.append(file)
    return files
