"""Model-free SAC (`--policy sac`): no model player, real data only, SAC's usual settings; it
learns, checkpoints and resumes exactly like every other run."""
import csv
import math

import torch

from stackelberg.cli import run
from stackelberg.runner.players import build_players
from stackelberg.mbpo.player import MBPOPolicyPlayer
from stackelberg.mbpo.model_free import NoModel

SAC_FAST = ["--policy", "sac", "--task", "inverted-pendulum", "--initial-samples", "400",
            "--samples-per-iteration", "200", "--set", "sac.hidden_sizes=64,64",
            "--set", "sac.min_pool_size=0", "--eval-episodes", "2", "--threads", "1",
            "--no-progress"]


def _rows(folder):
    return list(csv.DictReader(open(folder / "metrics.csv")))


def _without_timing(rows):
    return [{k: v for k, v in r.items() if "seconds" not in k} for r in rows]


def test_sac_defaults_are_model_free_sac():
    config = run.config_from_args(run.build_parser().parse_args(["--policy", "sac", "--task", "dclaw-turn"]))
    assert config.model_player == "none"
    m = config.sac
    assert (m.updates_per_step, m.target_entropy) == (1, None)
    assert config.schedule.initial_samples == 5000 and config.schedule.samples_per_iteration == 250
    assert config.schedule.buffer_capacity is None
    from stackelberg import tasks

    policy, model = build_players(config, tasks.make("dclaw-turn"))
    assert isinstance(policy, MBPOPolicyPlayer) and isinstance(model, NoModel)
    assert (policy.config.real_ratio, policy.config.rollouts_per_env_step) == (1.0, 0)
    assert policy.sac.target_entropy == -9.0  # -|A| for the claw's 9 joints


def test_sac_refuses_a_model_player_or_model_data(capsys):
    assert run.main(["--policy", "sac", "--model-player", "deterministic", "--out", "/tmp/never"]) == 2
    assert "takes no model player" in capsys.readouterr().err
    # SAC trains on real data only: its section has no knob for model data
    assert run.main(["--policy", "sac", "--set", "sac.real_ratio=0.5", "--out", "/tmp/never"]) == 2
    assert "unknown config key 'sac.real_ratio'; valid keys in [sac]" in capsys.readouterr().err
    assert run.main(["--model-player", "none", "--out", "/tmp/never"]) == 2
    assert "model-free" in capsys.readouterr().err


def test_sac_learns_the_pendulums_first_steps_and_resumes_exactly(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    assert run.main(SAC_FAST + ["--samples", "1600", "--out", str(full)]) == 0
    rows = _rows(full)
    returns = [float(r["eval_return"]) for r in rows]
    # the untrained actor's mean action drops the pole within a few steps; after ~1,200 SAC
    # updates it balances for several times longer
    assert returns[0] < 15 and max(returns[-3:]) > 3 * returns[0]
    for r in rows:  # no model: its columns are NaN, and the updates follow the data clock
        assert math.isnan(float(r["model_loss_fresh"])) and math.isnan(float(r["model_return"]))
        assert int(r["fit_steps"]) == 0
    samples = [int(r["samples"]) for r in rows]
    assert int(rows[0]["improve_steps"]) == 0  # exploration earns no updates
    assert [int(r["improve_steps"]) for r in rows[1:]] == [b - a for a, b in zip(samples, samples[1:])]

    assert run.main(SAC_FAST + ["--samples", "1000", "--out", str(part)]) == 0
    assert run.main(["--resume", "--out", str(part), "--samples", "1600", "--no-progress"]) == 0
    assert _without_timing(_rows(part)) == _without_timing(rows)
    a = torch.load(full / "checkpoint.pt", weights_only=True)["policy"]["sac"]["module"]
    b = torch.load(part / "checkpoint.pt", weights_only=True)["policy"]["sac"]["module"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    # reports name it as the model-free method it is, not as a solver of the game
    from stackelberg.analysis import report

    assert report.load_run(full, "eval_return").algo == "sac"
