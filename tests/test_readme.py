"""The README's own-game example runs as written (with a tiny budget)."""
import re
from pathlib import Path


def test_readme_example_runs(capsys):
    text = (Path(__file__).parent.parent / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    small = (code.replace("PAL(npg_steps=4)", "PAL(npg_steps=1, initial_samples=200, "
                          "samples_per_iteration=200, model_epochs=1, model_min_steps=5)")
             .replace("total_samples=20_000", "total_samples=400")
             .replace("NPGPolicyPlayer(task, seed=0)",
                      "NPGPolicyPlayer(task, NPGConfig(num_trajectories=8, horizon_cap=10), seed=0)"))
    assert small.count("total_samples=400") == 1 and "NPGConfig(" in small
    exec("from stackelberg import NPGConfig\n" + small, {})
    lines = [l for l in capsys.readouterr().out.splitlines() if l.strip()]
    assert len(lines) == 2 and lines[-1].startswith("400")
