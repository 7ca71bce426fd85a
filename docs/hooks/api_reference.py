"""MkDocs hook: the Python API page, one mkdocstrings entry per name in `stackelberg.__all__`.

The page is made at build time from `__all__` itself, so a public name cannot be missing from
it; `SECTIONS` only orders the names for a reader, and a name it does not list still appears,
under "More". Names are referenced top-level (`stackelberg.Game`), so the page does not depend
on which module defines them.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mkdocs.structure.files import Files

PAGE = "reference/api.md"

SECTIONS: dict[str, list[str]] = {
    "The game": ["Game", "IterationReport", "Schedule", "PAL", "MAL", "GDA", "BR", "make_schedule"],
    "Players": ["PolicyPlayer", "ModelPlayer", "ImproveReport", "FitReport", "NPGPolicyPlayer",
                "DynamicsEnsemble", "MBPOPolicyPlayer", "ProbabilisticEnsemble",
                "build_mbpo_players", "register_policy_player", "register_model_player",
                "build_players"],
    "Tasks and worlds": ["Task", "TaskError", "check_task", "tasks", "Perturbation",
                         "parse_perturbation"],
    "Data": ["ReplayBuffer", "InitialStateBuffer", "Trajectory"],
    "Run folders": ["RunFolder", "RunRecorder"],
    "Configuration": ["Config", "RunConfig", "ModelConfig", "PolicyConfig", "NPGConfig",
                      "MBPOConfig", "ProbabilisticModelConfig", "MBPO_TASK_DEFAULTS",
                      "resolve_config", "load_saved_config", "config_to_toml"],
    "Errors": ["UserInputError", "NonFiniteError"],
}

INTRO = """# Python API

Every public name of the package: `from stackelberg import NAME`. This page is generated from
`stackelberg.__all__` and the docstrings when the site is built.
"""


def api_page(public: list[str]) -> str:
    """The page's Markdown: each section's names that are public, then the public names no
    section lists."""
    listed = {name for names in SECTIONS.values() for name in names}
    sections = [(title, [n for n in names if n in public]) for title, names in SECTIONS.items()]
    sections.append(("More", [n for n in public if n not in listed]))
    parts = [INTRO]
    for title, names in sections:
        if names:
            parts.append(f"## {title}\n")
            parts.extend(f"::: stackelberg.{name}\n    options:\n      heading_level: 3\n"
                         for name in names)
    return "\n".join(parts)


_overlay: list[Path] = []


def on_config(config):
    """Point mkdocstrings at the package as Python imports it. Installed, setuptools maps the
    repository's top-level tasks/ folder to `stackelberg.tasks` (pyproject.toml), a mapping that
    mkdocstrings' static loader does not follow; it is given a folder of links where
    stackelberg/tasks is that folder. Where the package holds its tasks itself, nothing is done."""
    import stackelberg
    import stackelberg.tasks

    package = Path(stackelberg.__file__).parent
    tasks = Path(stackelberg.tasks.__file__).parent
    if tasks == package / "tasks":
        return config
    root = Path(tempfile.mkdtemp(prefix="stackelberg-docs-"))
    _overlay.append(root)
    (root / "stackelberg").mkdir()
    for child in package.iterdir():
        if child.name == "__init__.py":  # a copy: the loader takes the package's folder from it
            shutil.copy(child, root / "stackelberg" / child.name)
        elif child.name != "__pycache__":
            (root / "stackelberg" / child.name).symlink_to(child)
    (root / "stackelberg" / "tasks").symlink_to(tasks)
    config.plugins["mkdocstrings"].config["handlers"]["python"]["paths"] = [str(root)]
    return config


on_config.mkdocs_priority = 100  # type: ignore[attr-defined]  # before mkdocstrings' on_config


def on_post_build(config) -> None:
    while _overlay:
        shutil.rmtree(_overlay.pop(), ignore_errors=True)


def on_files(files: Files, config) -> Files:
    from mkdocs.structure.files import File

    import stackelberg

    files.append(File.generated(config, PAGE, content=api_page(list(stackelberg.__all__))))
    return files
