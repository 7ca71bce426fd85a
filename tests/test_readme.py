"""The README's python runs as written (with a tiny budget): every python block, in order."""
from pathlib import Path

from markdown_blocks import code_blocks

# the README's budgets, and what each becomes here (each must occur)
SHRINK = [("PAL(policy_steps=4)", "PAL(policy_steps=1, initial_samples=200, samples_per_iteration=200, "
                               "model_epochs=1, model_min_steps=5)"),
          ("total_samples=20_000", "total_samples=400"),
          ("NPGPolicyPlayer(task, seed=0)",
           "NPGPolicyPlayer(task, NPGConfig(num_trajectories=8, horizon_cap=10), seed=0)")]


def test_readme_python_runs(capsys):
    text = (Path(__file__).parent.parent / "README.md").read_text()
    for old, new in SHRINK:
        assert text.count(old) == 1, f"the README's {old!r} changed: update SHRINK"
        text = text.replace(old, new)
    blocks = [b for b in code_blocks(text) if b.lang == "python"]
    assert blocks
    namespace: dict = {}
    exec("from stackelberg import NPGConfig", namespace)
    for index, block in enumerate(blocks):
        exec(compile(block.code, f"README.md python block {index + 1}", "exec"), namespace)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.strip()]
    assert len(lines) == 2 and lines[-1].startswith("400")
