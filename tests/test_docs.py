"""The documentation cannot rot: every public name says what it is for, and every tutorial runs
as written (with budgets shrunk to seconds)."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
import sys
from pathlib import Path

import pytest

import stackelberg
from markdown_blocks import code_blocks, link_studies, run_page, shrink_shell, tiny_budgets

REPO = Path(__file__).resolve().parent.parent
GUIDE = REPO / "docs" / "guide"

# --- docstrings ---------------------------------------------------------------------------------


def _generated_dataclass_doc(obj) -> str:
    """The docstring `dataclasses` writes for a class that has none: its signature."""
    try:
        return obj.__name__ + str(inspect.signature(obj)).replace(" -> None", "")
    except (TypeError, ValueError):
        return ""


def _attribute_docstring(name: str) -> str | None:
    """The string literal right after `NAME = ...` in the module `stackelberg` imports NAME from
    (how a constant is documented, and what the API reference shows)."""
    init = ast.parse(Path(stackelberg.__file__).read_text())
    sources = [node.module for node in ast.walk(init) if isinstance(node, ast.ImportFrom)
               and node.module and any(alias.name == name for alias in node.names)]
    for source in sources:
        tree = ast.parse(inspect.getsource(importlib.import_module(source)))
        body = tree.body
        for node, following in zip(body, body[1:]):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AnnAssign) else []
            if any(isinstance(t, ast.Name) and t.id == name for t in targets) \
                    and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant) \
                    and isinstance(following.value.value, str):
                return following.value.value
    return None


def public_docstring(name: str) -> str | None:
    """The docstring the API reference shows for `stackelberg.NAME`: its own, not one it
    inherits (a class's from its base, an instance's from its type) or one generated for it."""
    obj = getattr(stackelberg, name)
    if inspect.isclass(obj):
        doc = obj.__dict__.get("__doc__")
        return None if doc == _generated_dataclass_doc(obj) else doc
    if inspect.isfunction(obj) or inspect.ismodule(obj):
        return obj.__doc__
    return _attribute_docstring(name)


@pytest.mark.parametrize("name", stackelberg.__all__)
def test_every_public_name_says_what_it_is_for(name):
    doc = public_docstring(name)
    assert doc and len(doc.split()) >= 4, (
        f"stackelberg.{name} needs a docstring of its own that says what it is for "
        f"(has {doc!r}); it is what the API reference shows")


def test_the_docstring_check_refuses_boilerplate():
    """The check above can fail: a dataclass's generated signature, an inherited docstring and
    an undocumented constant are not docstrings."""
    from dataclasses import dataclass

    @dataclass
    class Bare:
        steps: int

    class Child(stackelberg.Game):
        pass

    assert Bare.__doc__ == _generated_dataclass_doc(Bare)
    assert Child.__dict__.get("__doc__") is None and inspect.getdoc(Child)
    assert _attribute_docstring("MBPO_TASK_DEFAULTS")
    assert _attribute_docstring("__version__") is None


# --- tutorials ----------------------------------------------------------------------------------

TINY_SCHEDULE = "policy_steps=1, initial_samples=200, samples_per_iteration=200, model_epochs=1, model_min_steps=5"
# per page: text replacements that shrink its python budgets (each must occur), files it must leave
TUTORIALS = {
    "own-game.md": dict(
        replace=[("PAL()", f"PAL({TINY_SCHEDULE})"),
                 ("NPGPolicyPlayer(task, seed=0)",
                  "NPGPolicyPlayer(task, NPGConfig(num_trajectories=8, horizon_cap=10), seed=0)"),
                 ("DynamicsEnsemble(task.obs_dim, task.act_dim, seed=0)",
                  "DynamicsEnsemble(task.obs_dim, task.act_dim, ModelConfig(hidden_sizes=(32, 32)), seed=0)"),
                 ("total_samples=20_000", "total_samples=400")],
        leaves=["runs/out/swingup-pal/metrics.csv", "runs/out/swingup-pal/checkpoint.pt", "swingup.png"]),
    "own-player.md": dict(replace=[], leaves=[]),
    "perturbation-study.md": dict(
        replace=[("--perturb dynamics@10000", "--perturb dynamics@200")],
        leaves=["study.png"]),
    "reproduce-figure.md": dict(replace=[], leaves=["figure4-dynamics.png"]),
    "watch-policy.md": dict(
        replace=[], leaves=["runs/out/watch/videos/policy_best.mp4"]),
}


def test_every_tutorial_in_the_navigation_is_run():
    nav = (REPO / "mkdocs.yml").read_text()
    tutorials = nav.split("  - Tutorials:")[1].split("\n  - ")[0]
    assert sorted(line.rsplit("guide/", 1)[1] for line in tutorials.splitlines() if "guide/" in line) \
        == sorted(TUTORIALS)


@pytest.mark.parametrize("page", sorted(TUTORIALS))
def test_tutorial_runs_as_written(page, tmp_path, monkeypatch, capsys):
    spec = TUTORIALS[page]
    text = (GUIDE / page).read_text()
    for old, new in spec["replace"]:
        assert old in text, f"{page} no longer has {old!r}: update its budget in TUTORIALS"
        text = text.replace(old, new)
    link_studies(REPO, tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__tutorial__", "NPGConfig": stackelberg.NPGConfig,
                 "ModelConfig": stackelberg.ModelConfig}
    ran = run_page(text, tmp_path, namespace, page)
    runnable = [b for b in code_blocks(text) if b.lang in ("python", "bash")]
    assert ran == len(runnable) > 0
    for path in spec["leaves"]:
        assert (tmp_path / path).is_file(), f"{page} should leave {path}"


def test_shrinking_keeps_the_command_and_its_comment():
    code = (".venv/bin/python -m stackelberg.run --task hopper --samples 3000 \\\n"
            "    --out runs/out/a   # a comment with --samples 5\n"
            ".venv/bin/python -m stackelberg.run --resume --out runs/out/a --samples 4000\n"
            '.venv/bin/python -m stackelberg.render runs/out/a --title "a # b"\n')
    budgets = tiny_budgets(f"Run:\n\n```bash\n{code}```\n\nnot `--samples 100`\n")
    assert budgets == {3000: 400, 4000: 600}
    lines = shrink_shell(code, budgets).splitlines()
    assert lines[0].endswith("# a comment with --samples 5") and "--samples 400" in lines[0]
    assert "--initial-samples 200" in lines[0].split("#")[0] and "stackelberg.run" in lines[0]
    assert "--samples 600" in lines[1] and "--initial-samples" not in lines[1]  # a resume keeps its config
    assert lines[2].endswith('"a # b" --max-steps 20 --width 160 --height 120')
    assert all(line.startswith(f"{sys.executable} -m stackelberg.") for line in lines)


# --- the site's generated pages -------------------------------------------------------------------


def _hook(name: str):
    """A module of docs/hooks (they import mkdocs only when the site is built)."""
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", REPO / "docs" / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_api_page_documents_every_public_name_top_level():
    hook = _hook("api_reference")
    page = hook.api_page(list(stackelberg.__all__))
    assert sorted(re.findall(r"^::: stackelberg\.(\w+)$", page, re.M)) == sorted(stackelberg.__all__)
    added = hook.api_page(["Game", "SomethingNew"])
    assert "## More" in added and "::: stackelberg.SomethingNew" in added and "## Errors" not in added


def test_the_cli_page_is_each_parsers_help():
    from stackelberg.cli.main import COMMANDS

    page = _hook("cli_reference").cli_page()
    for name in COMMANDS:
        assert f"\n## {name}\n" in page and f"usage: python -m stackelberg.{name}" in page
    assert "--stop-at METRIC=VALUE" in page and "--lower-is-better" in page


def test_results_links_to_folders_or_outside_runs_become_their_text(tmp_path):
    root = tmp_path / "runs"
    (root / "study" / "figures").mkdir(parents=True)
    (root / "study" / "figures" / "a.png").write_bytes(b"png")
    (root / "notes").mkdir()
    (root / "notes" / "n.md").write_text("notes")
    text = ("[the study](study) ![a figure](study/figures/a.png) [notes](notes/n.md#part) "
            "[code](../stackelberg/x.py) [gone](study/missing.png) [web](https://arxiv.org) [up](#top)\n"
            "```bash\n[the study](study)\n```\n")
    found: list[Path] = []
    out = _hook("results_pages").rewrite_links(text, root, root.resolve(), found)
    assert out == ("the study ![a figure](study/figures/a.png) [notes](notes/n.md#part) "
                   "code [gone](study/missing.png) [web](https://arxiv.org) [up](#top)\n"
                   "```bash\n[the study](study)\n```\n")
    assert found == [(root / "study" / "figures" / "a.png").resolve(), (root / "notes" / "n.md").resolve()]
