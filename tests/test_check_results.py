"""`runs/scripts/check_results.py`: every results block of RESULTS.md is rerun and compared; an
edited record makes the check fail with a diff, `--update` writes the new output, and a malformed
RESULTS.md is refused. Works on a temporary copy of the records, never on the committed ones."""
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_results", ROOT / "runs" / "scripts" / "check_results.py")
check_results = importlib.util.module_from_spec(spec)
sys.modules["check_results"] = check_results  # its dataclass looks its module up while being built
spec.loader.exec_module(check_results)

RECORDS = Path("runs/gym/records/pendulum")
MBPO_RECORDS = Path("runs/gym/records/mbpo")  # the pendulum block also reads the MBPO backend's runs


def committed_block(name: str) -> str:
    """A results block exactly as RESULTS.md holds it."""
    results = ROOT / "runs" / "RESULTS.md"
    text = results.read_text(encoding="utf-8")
    block = next(b for b in check_results.parse(text, results) if b.name == name)
    lines = text.split("\n")
    start = max(i for i in range(block.first) if lines[i].startswith(f"<!-- results: {name} -->"))
    return "\n".join(lines[start:block.last + 1]) + "\n"


def copy_of_the_pendulum_records(tmp_path: Path) -> Path:
    for records in (RECORDS, MBPO_RECORDS):
        shutil.copytree(ROOT / records, tmp_path / records)
    results = tmp_path / "RESULTS.md"
    results.write_text("# results\n\n" + committed_block("pendulum") + "\nprose after\n", encoding="utf-8")
    return results


def test_an_edited_metrics_csv_fails_the_check_and_update_writes_the_new_table(tmp_path, capsys):
    results = copy_of_the_pendulum_records(tmp_path)
    assert check_results.check(results, tmp_path, update=False) == 0  # the committed block holds
    # seed 1 of PAL first reaches 950 at 4,627 samples; make that evaluation fall short of it
    metrics = tmp_path / RECORDS / "inverted-pendulum-pal-s1" / "metrics.csv"
    rows = metrics.read_text().split("\n")
    header = rows[0].split(",")
    col, at = header.index("eval_return"), header.index("samples")
    hit = next(i for i, r in enumerate(rows[1:], 1) if r and r.split(",")[at] == "4627")
    cells = rows[hit].split(",")
    cells[col] = "500.0"
    rows[hit] = ",".join(cells)
    metrics.write_text("\n".join(rows))
    capsys.readouterr()
    assert check_results.check(results, tmp_path, update=False) == 1
    err = capsys.readouterr().err
    assert "FAIL pendulum: its output differs" in err
    assert "-| inverted-pendulum | pal | 3 |" in err and "+| inverted-pendulum | pal | 3 |" in err
    assert "3504, 4627, 4604" in err  # the committed per-seed samples, on the removed line
    # --update writes the new output into the block and leaves the prose alone
    assert check_results.check(results, tmp_path, update=True) == 0
    text = results.read_text(encoding="utf-8")
    assert "3504, 4627, 4604" not in text and text.endswith("\nprose after\n")
    assert "| inverted-pendulum | pal | 3 | 10526, 10789, 10321 | 1000.0 ± 0 | 1000.0 | 3504, " in text


def test_the_check_moves_figures_into_a_temporary_folder():
    command = "python -m stackelberg.report A --plot runs/x/fig.png --title t\npython -m stackelberg.diagnose --out=runs/y.png"
    moved = check_results.read_only(command, Path("/tmp/T"), "blk")
    assert "--plot /tmp/T/blk-1-fig.png" in moved and "--out=/tmp/T/blk-2-y.png" in moved
    assert "runs/x" not in moved and "runs/y" not in moved


def test_text_output_is_compared_inside_its_fence(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("<!-- results: echo -->\n```bash\necho hello\n```\n\n```text\nhello\n```\n\n<!-- /results -->\n")
    assert check_results.check(results, tmp_path, update=False) == 0
    results.write_text(results.read_text().replace("hello\n```\n\n<", "bye\n```\n\n<"))
    assert check_results.check(results, tmp_path, update=False) == 1
    assert check_results.check(results, tmp_path, update=True) == 0
    assert "```text\nhello\n```" in results.read_text()


@pytest.mark.parametrize("text, line, message", [
    ("<!-- results: a -->\n```bash\necho\n```\nout\n", 1, "no '<!-- /results -->'"),
    ("<!-- results: a -->\nno command\n<!-- /results -->\n", 1, "must be followed by a ```bash block"),
    ("<!-- results: a -->\n```bash\necho\n```\n<!-- /results -->\n" * 2, 6, "a second block named a"),
    ("<!-- results a -->\n", 1, "expected '<!-- results: NAME -->'"),
    ("<!-- results: a -->\n```bash\necho\n", 1, "never closed"),
])
def test_a_malformed_block_is_refused_with_its_line(tmp_path, capsys, text, line, message):
    results = tmp_path / "RESULTS.md"
    results.write_text(text)
    assert check_results.check(results, tmp_path, update=False) == 2
    err = capsys.readouterr().err
    assert message in err and (f"{results}:{line} " in err or f"{results}:{line}:" in err)


def test_a_failing_command_fails_the_check(tmp_path, capsys):
    results = tmp_path / "RESULTS.md"
    results.write_text("<!-- results: bad -->\n```bash\npython -m stackelberg.report no/such/run\n```\n\nx\n\n<!-- /results -->\n")
    assert check_results.check(results, tmp_path, update=False) == 1
    assert "FAIL bad: the command exited with 2" in capsys.readouterr().err
