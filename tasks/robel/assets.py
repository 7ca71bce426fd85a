"""ROBEL's MJCF assets, made loadable by MuJoCo 4 without touching site-packages.

robel 0.1.2 is installed only for its model files (`import robel` needs old gym and mujoco-py).
Every `.xml` in the wheel has `<?xml ...?>` on line 17, after the licence comment, and MuJoCo 4
rejects a declaration that is not at the very start of a file, including in `<include>`d files.
So we copy the three asset trees into a cache (keeping the `<cache>/robel/...` layout, because
the top files reach `../../robel-scenes/...` by relative path), drop those lines, and load from
there. The copy is built in a temporary directory and renamed into place, so two processes
racing to build it both end up using one complete tree.
"""
from __future__ import annotations

import copy
import importlib.metadata
import importlib.util
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Dict, Optional

import mujoco

ROBEL_PIN = "0.1.2"
INSTALL_COMMAND = f".venv/bin/pip install --no-deps robel=={ROBEL_PIN}"
CACHE_ENV_VAR = "STACKELBERG_CACHE"

# Asset trees to copy, relative to the robel package dir.
_TREES = ("dclaw/assets", "dkitty/assets", "robel-scenes")
# Files that must exist for the two tasks (a sanity check on the installed wheel).
DCLAW_TURN_XML = "dclaw/assets/dclaw3xh_valve3_v0.xml"
DKITTY_ORIENT_XML = "dkitty/assets/dkitty_orient-v0.xml"
_REQUIRED = (DCLAW_TURN_XML, DKITTY_ORIENT_XML, "robel-scenes/scenes/basic_scene.xml")
_COMPLETE_MARKER = ".complete"
_XML_DECLARATION = re.compile(r"\s*<\?xml[^>]*\?>\s*")


class RobelMissingError(RuntimeError):
    """robel (used only for its model files) is not installed, or its files are missing."""


def _missing(reason: str) -> RobelMissingError:
    return RobelMissingError(
        f"{reason}. The ROBEL tasks need the MJCF assets shipped in robel {ROBEL_PIN}. "
        f"Install it without its obsolete dependencies, inside the project's .venv: "
        f"`{INSTALL_COMMAND}` (i.e. `pip install --no-deps robel=={ROBEL_PIN}` with the venv active)."
    )


def robel_package_dir() -> Path:
    """The installed robel package dir, found without importing robel (the import fails)."""
    spec = importlib.util.find_spec("robel")
    if spec is None or not spec.submodule_search_locations:
        raise _missing("robel is not installed")
    pkg = Path(list(spec.submodule_search_locations)[0])
    for rel in _REQUIRED:
        if not (pkg / rel).is_file():
            raise _missing(f"robel is installed at {pkg} but {rel} is missing")
    return pkg


def _robel_version() -> str:
    try:
        return importlib.metadata.version("robel")
    except importlib.metadata.PackageNotFoundError:
        return ROBEL_PIN


def cache_dir() -> Path:
    """`$STACKELBERG_CACHE/robel-<version>` (default base `~/.cache/stackelberg`)."""
    base = os.environ.get(CACHE_ENV_VAR) or os.path.join("~", ".cache", "stackelberg")
    return Path(base).expanduser() / f"robel-{_robel_version()}"


def strip_xml_declarations(text: str) -> str:
    """Remove every line that is only an `<?xml ...?>` declaration (the MuJoCo 4 fix)."""
    lines = text.splitlines(keepends=True)
    return "".join(line for line in lines if not _XML_DECLARATION.fullmatch(line))


def _build(pkg: Path, staging: Path) -> None:
    for tree in _TREES:
        src = pkg / tree
        if not src.is_dir():
            raise _missing(f"robel is installed at {pkg} but {tree}/ is missing")
        dst = staging / "robel" / tree
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        for xml in dst.rglob("*.xml"):
            xml.write_text(strip_xml_declarations(xml.read_text(encoding="utf-8")), encoding="utf-8")
    (staging / _COMPLETE_MARKER).write_text(f"robel assets copied from {pkg}\n")
    staging.chmod(0o755)  # mkdtemp makes it private; the final cache is an ordinary dir


def asset_root() -> Path:
    """The patched `<cache>/robel` directory, building it on first use.

    Idempotent and safe under concurrent callers: each builds in its own temporary directory
    and renames it to the final name; a loser of the race discards its copy and uses the winner's.
    A finished cache is only ever created by that rename, so it is never seen half-written.
    """
    final = cache_dir()
    if (final / _COMPLETE_MARKER).is_file():
        return final / "robel"
    pkg = robel_package_dir()
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=final.name + ".tmp-", dir=final.parent))
    try:
        _build(pkg, staging)
        try:
            os.rename(staging, final)
        except OSError:
            if not (final / _COMPLETE_MARKER).is_file():  # not ours: never delete it blindly
                raise RuntimeError(
                    f"{final} exists but is not a complete ROBEL asset cache; delete it and retry"
                ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final / "robel"


_models: Dict[str, mujoco.MjModel] = {}
_models_lock = threading.Lock()


def model_path(relpath: str, root: Optional[Path] = None) -> str:
    """The patched model file for `relpath` (relative to the robel package dir)."""
    return str(((root or asset_root()) / relpath).resolve())


def load_model(relpath: str, root: Optional[Path] = None) -> mujoco.MjModel:
    """A fresh `MjModel` for `relpath` (relative to the robel package dir).

    Compiling the meshes takes a while, so the first model per file is kept and later calls get
    a deep copy: envs edit their own model (target site/marker), so they must not share one.
    """
    path = model_path(relpath, root)
    with _models_lock:
        if path not in _models:
            _models[path] = mujoco.MjModel.from_xml_path(path)
        return copy.deepcopy(_models[path])
