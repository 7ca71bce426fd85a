"""`--policy m3po`: its players through the registry (M3PO, M2PO), M3PO-h's real-data schedule,
an exact resume of a run whose episodes cross switches, and the guard that refuses a player
scoring rollouts with a hidden reward."""
from __future__ import annotations

import io
import math
from dataclasses import replace

import pytest
import torch

from stackelberg import tasks
from stackelberg.cli import run as cli_run
from stackelberg.config import resolve_config
from stackelberg.core.buffers import ReplayBuffer
from stackelberg.core.history import step_features
from stackelberg.core.errors import UserInputError
from stackelberg.core.game import Game
from stackelberg.core.schedules import PAL
from stackelberg.m3po import M3POConfig, M3POPolicyPlayer, MetaModel, MetaModelConfig
from stackelberg.models.config import ProbabilisticModelConfig
from stackelberg.models.probabilistic import ProbabilisticEnsemble
from stackelberg.npg.config import NPGConfig, PolicyConfig
from stackelberg.npg.player import NPGPolicyPlayer
from stackelberg.runner.players import build_players
from stackelberg.tasks.history import with_history
from stackelberg.tasks.switching_cheetah import halfcheetah_fwd_bwd
from stackelberg.worlds.collect import run_episode


def short_task():
    """HalfCheetah-fwd-bwd switching every 10 steps, 25-step episodes, a 3-step history."""
    task = with_history(halfcheetah_fwd_bwd(switch_seconds=0.5), 3)
    return replace(task, horizon=25)


def test_m3po_and_m2po_players_through_the_registry():
    name = "halfcheetah-fwd-bwd+h10"
    task = tasks.make(name)
    m3po = resolve_config(None, [("run.task", name), ("run.policy", "m3po")])
    assert m3po.model_player == "meta"
    assert (m3po.sections["m3po"].rollouts_per_env_step, m3po.sections["m3po"].updates_per_step) == (1000, 40)
    assert m3po.sections["m3po"].real_ratio == 0.0 and m3po.sections["m3po"].learned_reward
    assert m3po.schedule.samples_per_iteration == 250
    policy, model = build_players(m3po, task)
    assert isinstance(policy, M3POPolicyPlayer) and isinstance(model, MetaModel)
    assert (model.ensemble_size, model.gru_units, model.config.hidden_sizes) == (3, 5, (400, 400))
    m2po = resolve_config(None, [("run.task", name), ("run.policy", "m3po"),
                                 ("run.model_player", "probabilistic")])
    policy, model = build_players(m2po, task)
    assert isinstance(policy, M3POPolicyPlayer) and type(model) is ProbabilisticEnsemble
    assert model.history == task.history and model.observed_dim == 18  # Markov on o_t
    ant = resolve_config(None, [("run.task", "ant-crippled-leg+h10"), ("run.policy", "m3po")])
    assert (ant.sections["m3po"].rollouts_per_env_step, ant.sections["m3po"].updates_per_step) == (1000, 20)


def test_m3po_h_real_share_is_the_clipped_linear_schedule():
    config = M3POConfig(real_ratio_schedule=(80, 130))
    assert [config.real_ratio_at(e) for e in (0, 80, 105, 130, 400)] == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert M3POConfig(real_ratio=0.25).real_ratio_at(1000) == 0.25
    with pytest.raises(UserInputError, match="real_ratio_schedule needs end epoch b > start epoch a"):
        resolve_config(None, [("run.task", "halfcheetah-fwd-bwd+h10"), ("run.policy", "m3po"),
                              ("m3po.real_ratio_schedule", "[5, 5]")])


def tiny_game(task, seed: int, model_player: str = "meta") -> Game:
    config = M3POConfig(hidden_sizes=(16, 16), batch_size=16, rollouts_per_env_step=2,
                        updates_per_step=1, min_pool_size=0, epoch_length=25,
                        real_ratio_schedule=(1, 3), save_model_buffer=True)
    policy = M3POPolicyPlayer(task, config, seed=seed)
    if model_player == "meta":
        model = MetaModel(task.history, MetaModelConfig(ensemble_size=2, num_elites=2, hidden_sizes=(8,),
                                                        weight_decays=(0.0, 0.0), gru_units=2), seed=seed)
    else:  # M2PO: a Markov model on o_t and a_t that shifts the window itself
        model = ProbabilisticEnsemble(task.obs_dim, task.act_dim, ProbabilisticModelConfig(
            ensemble_size=2, num_elites=2, hidden_sizes=(8,), weight_decays=(0.0, 0.0)),
            seed=seed, history=task.history)
    schedule = PAL(initial_samples=25, samples_per_iteration=25, buffer_capacity=None, model_epochs=3,
                   model_min_steps=0)
    return Game(task, policy, model, schedule, seed=seed, eval_episodes=1)


def resumed_step_equals_straight(task, seed: int, model_player: str = "meta", straight_steps: int = 3):
    """The last of `straight_steps` iterations, run straight and after a checkpoint (through
    torch.save and a weights-only load) in a fresh game: the two iteration records."""
    straight = tiny_game(task, seed, model_player)
    expected = [straight.step() for _ in range(straight_steps)]
    first = tiny_game(task, seed, model_player)
    for _ in range(straight_steps - 1):
        first.step()
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = tiny_game(task, seed, model_player)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    return resumed.step(), expected


RESUME_KEYS = ("eval_return", "train_return", "model_train_loss", "model_loss_fresh", "policy_kl")


@pytest.mark.parametrize("model_player", ["meta", "probabilistic"])
@pytest.mark.parametrize("world", ["halfcheetah-fwd-bwd", "halfcheetah-pier", "ant-fwd-bwd",
                                   "ant-crippled-leg", "walker2d-randomparams", "humanoid-direc"])
def test_m3po_and_m2po_train_and_resume_exactly_on_every_switching_world(world, model_player):
    """M3PO (meta-model) and M2PO (Markov model) on each of the six worlds, 25-step episodes:
    two iterations, then the second again after a checkpoint, equal to the straight run."""
    task = replace(tasks.make(f"{world}+h10"), horizon=25)
    got, expected = resumed_step_equals_straight(task, seed=1, model_player=model_player, straight_steps=2)
    assert all(math.isfinite(r.eval_return) and math.isfinite(r.model_train_loss) for r in expected)
    assert [getattr(got, k) for k in RESUME_KEYS] == [getattr(expected[1], k) for k in RESUME_KEYS]
    assert got.policy_extras == expected[1].policy_extras


def test_resume_continues_exactly_across_switches():
    """Three iterations straight, or two, a checkpoint (through torch.save and a weights-only
    load) and a third in a fresh game: the same third iteration, with switches inside every
    episode and M3PO-h's real share moving."""
    task = short_task()
    assert task.make_env(0).env.switch_steps == 10 < task.horizon
    got, expected = resumed_step_equals_straight(task, seed=4)
    assert [getattr(got, k) for k in RESUME_KEYS] == [getattr(expected[2], k) for k in RESUME_KEYS]
    assert got.policy_extras == expected[2].policy_extras
    assert [r.policy_extras["real_ratio"] for r in expected] == [0.0, 0.0, 0.5]


def test_a_player_scoring_rollouts_with_a_hidden_reward_is_refused():
    task = tasks.make("halfcheetah-fwd-bwd")
    policy = NPGPolicyPlayer(task, NPGConfig(num_trajectories=2), PolicyConfig(hidden_sizes=(8,)))
    with pytest.raises(UserInputError, match="hides its reward .* use a player that learns the reward"):
        Game(task, policy, ProbabilisticEnsemble(task.obs_dim, task.act_dim), PAL())


@pytest.mark.parametrize("argv, message", [
    (["--task", "halfcheetah-fwd-bwd"], "hides its reward"),
    (["--task", "ant-fwd-bwd", "--policy", "mbpo"], "use a player that learns the reward"),
    (["--task", "halfcheetah-fwd-bwd", "--policy", "m3po"], "the meta model reads the history"),
    (["--task", "halfcheetah-fwd-bwd", "--policy", "m3po", "--set", "run.model_player=probabilistic"],
     "the m3po policy reads the history"),
])
def test_refusals_are_one_line_and_exit_code_2(argv, message, capsys, tmp_path):
    assert cli_run.main(argv + ["--samples", "100", "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "never").exists()


def test_branched_rollouts_continue_real_windows_with_the_predicted_step():
    """MBPO's k = 1 rollouts from real histories (the meta-model, untrained): every synthetic
    transition starts from a real observation, and its next observation's window is the start's
    window shifted by (o_t, the action the world would get, the predicted reward)."""
    task = short_task()
    layout = task.history
    game = tiny_game(task, seed=0)
    replay = ReplayBuffer()
    for _ in range(2):
        replay.add(run_episode(game.env, lambda obs: torch.rand(6) * 2 - 1, task))
    policy = game.policy
    policy.model_buffer.resize(40)
    policy.branched_rollouts(game.model, replay, n=40, k=1)
    synthetic = policy.model_buffer.contents()
    real = replay.tensors()["obs"]
    assert all((real == row).all(-1).any() for row in synthetic["obs"])  # starts are real histories
    act_env = policy.actions.to_env(synthetic["act"])
    torch.testing.assert_close(layout.window(synthetic["next_obs"])[:, :-1], layout.window(synthetic["obs"])[:, 1:])
    torch.testing.assert_close(layout.window(synthetic["next_obs"])[:, -1],
                               step_features(layout.observed(synthetic["obs"]), act_env, synthetic["reward"]))


@pytest.mark.parametrize("reward_source, refused", [("task", True), ("learned", False)])
def test_memb_scoring_with_the_task_reward_is_refused_where_the_reward_is_hidden(reward_source, refused):
    from stackelberg.memb import MEMBConfig, MEMBPolicyPlayer

    task = tasks.make("halfcheetah-fwd-bwd")
    policy = MEMBPolicyPlayer(task, MEMBConfig(hidden_sizes=(8,), reward_source=reward_source))
    model = ProbabilisticEnsemble(task.obs_dim, task.act_dim)
    if refused:
        with pytest.raises(UserInputError, match="hides its reward"):
            Game(task, policy, model, PAL())
    else:
        Game(task, policy, model, PAL())
