"""Every committed run record loads as `--resume`, a sweep and the report read it: config.toml
through `load_saved_config` (older layouts translated: SAC's settings from `[mbpo]`, the policy
network's from `[policy]`), and the translated config records the same run it describes."""
from pathlib import Path

import pytest

from stackelberg.analysis.report import load_run
from stackelberg.config import config_from_record, config_record, load_saved_config, load_toml

ROOT = Path(__file__).resolve().parent.parent
RECORDS = sorted(p for p in ROOT.glob("runs/**/config.toml") if "records" in p.parts)


def test_there_are_records_to_check():
    assert len(RECORDS) > 100


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: str(p.relative_to(ROOT / "runs").parent))
def test_committed_record_loads_and_round_trips(path):
    raw = load_toml(path)
    config = load_saved_config(path)
    assert (config.run.task, config.run.algo, config.run.seed, config.run.policy) == \
        (raw["run"]["task"], raw["run"]["algo"], raw["run"]["seed"], raw["run"].get("policy", "npg"))
    # each value of the old file is where today's layout keeps it
    for key, value in raw.get("policy", {}).items():
        new = "policy_hidden_sizes" if key == "hidden_sizes" else key
        assert getattr(config.npg, new) == (tuple(value) if isinstance(value, list) else value)
    if raw["run"].get("policy") == "sac":  # older records kept SAC's settings in [mbpo]
        sac = raw.get("sac", raw["mbpo"])
        assert config.sac.lr == sac["lr"]
        assert config.sac.updates_per_step == sac["updates_per_step"]
    else:
        for key, value in raw["mbpo"].items():
            assert getattr(config.mbpo, key) == (tuple(value) if isinstance(value, list) else value)
    if "npg_steps" in raw.get("schedule", {}):  # the policy step count's older name
        assert config.schedule.policy_steps == raw["schedule"]["npg_steps"]
    assert config.probabilistic_model.wrap_angles == config.model.wrap_angles
    # the old file as a checkpoint keeps it (read leniently, compared key by key on resume)
    assert config_record(config_from_record(raw, lenient=True)) == config_record(config)
    # today's record of it reads back as the same config, strictly and as a checkpoint's copy
    record = config_record(config)
    assert config_record(config_from_record(record)) == record
    assert config_record(config_from_record(record, lenient=True)) == record
    if (path.parent / "metrics.csv").is_file():
        curve = load_run(path.parent, "eval_return")
        assert curve.task == raw["run"]["task"]
