"""Synthetic rollouts: termination cut, member layout, start-state mix, device."""
import numpy as np
import pytest
import torch

from stackelberg import tasks
from stackelberg.core.buffers import InitialStateBuffer, ReplayBuffer, Trajectory
from stackelberg import NPGConfig
from stackelberg.npg.player import NPGPolicyPlayer
from stackelberg.cli import run
from stackelberg.core.errors import UserInputError
from stackelberg.core.model_env import (ModelEnv, branched_rollouts, every_member, model_rollouts,
                                         replayed, sampled_member)
from stackelberg.tasks import Task


def counting_task(limit: float) -> Task:
    """obs[0] counts up by the action; a path terminates once it exceeds `limit`."""
    return Task(name="count", make_env=lambda seed: None,
                reward_fn=lambda o, a, n: n[..., 0],
                termination_fn=lambda o, a, n: n[..., 0] > limit,
                horizon=10, obs_dim=2, act_dim=1, act_low=np.array([-1.0]), act_high=np.array([1.0]))


def test_paths_end_at_first_terminal_step_which_keeps_its_reward():
    task = counting_task(limit=3.5)
    member_speed = torch.tensor([1.0, 2.0]).view(2, 1, 1)  # member e adds (e + 1) per step
    step = lambda obs, act: obs + member_speed * torch.tensor([1.0, 0.0])
    starts = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    paths = model_rollouts(step, lambda s: torch.zeros(*s.shape[:-1], 1), task, starts, 2, 10)
    # member-major order: (m0,s0), (m0,s1), (m1,s0), (m1,s1)
    assert paths.lengths.tolist() == [4, 1, 2, 1]
    assert paths.terminated.all()
    assert paths.returns().tolist() == [1 + 2 + 3 + 4, 4, 2 + 4, 5]
    assert paths.obs.shape == (4, 4, 2)  # stopped early: every path ended by step 4


def test_unterminated_paths_run_the_full_horizon_and_actions_are_clamped():
    task = counting_task(limit=1e9)
    paths = model_rollouts(lambda o, a: o + 0.0, lambda s: torch.full((*s.shape[:-1], 1), 500.0),
                           task, torch.zeros(3, 2), 2, 7, action_clamp=100.0)
    assert paths.mask.all() and paths.mask.shape == (6, 7) and not paths.terminated.any()
    assert paths.act.max().item() == 100.0


def test_to_horizon_keeps_rolling_after_the_end_and_keeps_the_last_state():
    task = counting_task(limit=2.5)
    step = lambda obs, act: obs + act * torch.tensor([1.0, 0.0])
    actions = torch.tensor([[[1.0], [2.0], [0.5], [1.0]]])  # (N=1, T=4, 1), replayed open loop
    paths = model_rollouts(step, replayed(actions), task, torch.zeros(1, 2), 2, 4, None,
                           to_horizon=True)
    # both members see the same replayed actions: states 0, 1, 3, 3.5, 4.5 (ended at 3)
    assert paths.states().shape == (2, 5, 2)
    assert paths.states()[:, :, 0].tolist() == [[0.0, 1.0, 3.0, 3.5, 4.5]] * 2
    assert paths.lengths.tolist() == [2, 2] and paths.terminated.all()
    assert paths.returns().tolist() == [4.0, 4.0]  # rewards after the end do not count
    assert paths.keep(torch.tensor([1])).last_obs.tolist() == [[4.5, 0.0]]


class TwoMembers:
    """Member e adds e + 1 to obs[0]; a reward head that pays -1."""

    def step(self, obs, act):
        return obs + torch.tensor([1.0, 2.0]).view(2, 1, 1) * torch.tensor([1.0, 0.0])


def test_model_env_rewards_from_the_task_or_the_reward_head():
    task = counting_task(limit=10.0)
    obs, act = torch.zeros(3, 2), torch.zeros(3, 1)
    head = lambda o, a: (o + 1.0, torch.full((o.shape[0],), -1.0))
    assert ModelEnv(task, head).step(obs, act)[1].tolist() == [1.0] * 3  # task's: next obs[0]
    assert ModelEnv(task, head, learned_reward=True).step(obs, act)[1].tolist() == [-1.0] * 3
    with pytest.raises(UserInputError, match="reward head"):
        ModelEnv(task, every_member(TwoMembers().step), learned_reward=True).step(obs, act)


def test_sampled_member_picks_one_member_per_transition():
    generator = torch.Generator().manual_seed(0)
    next_obs, reward = sampled_member(TwoMembers(), generator)(torch.zeros(200, 2), torch.zeros(200, 1))
    assert reward is None and next_obs.shape == (200, 2)
    assert set(next_obs[:, 0].tolist()) == {1.0, 2.0}  # each row one member's prediction


def test_branches_drop_ended_and_non_finite_transitions_and_keep_the_policy_units():
    task = counting_task(limit=2.5)
    seen = []

    def predict(obs, act):
        seen.append(act.clone())
        nxt = obs + act * torch.tensor([1.0, 0.0])
        nxt[obs[:, 1] == 1.0] = float("nan")  # the branch marked 1 blows up at once
        return nxt, None

    starts = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    steps = list(branched_rollouts(ModelEnv(task, predict), lambda o: torch.full((o.shape[0], 1), 0.5),
                                   starts, 5, to_task_units=lambda a: 2 * a))
    assert torch.equal(seen[0], torch.ones(3, 1))  # the model saw the task's units
    assert steps[0].act.tolist() == [[0.5], [0.5]]  # the transitions keep the policy's
    assert steps[0].rows.tolist() == [0, 1] and steps[0].done.tolist() == [False, True]
    assert [s.rows.tolist() for s in steps] == [[0, 1], [0], [0]]  # 1 -> 2 -> 3 ends branch 0
    assert steps[-1].done.tolist() == [True] and len(steps) == 3


@pytest.mark.parametrize("fraction,expect_buffer", [(0.0, 0), (0.5, 5), (1.0, 10)])
def test_start_states_mix_initial_and_visited_states(fraction, expect_buffer):
    task = tasks.make("inverted-pendulum")
    player = NPGPolicyPlayer(task, NPGConfig(start_state_buffer_fraction=fraction))
    initial, replay = InitialStateBuffer(), ReplayBuffer()
    initial.add(torch.full((4,), -1.0))
    visited = torch.full((20, 4), 7.0)
    replay.add(Trajectory(visited, torch.zeros(20, 1), visited, torch.zeros(20), False))
    starts = player.start_states(replay, initial, 10)
    assert starts.shape == (10, 4)
    assert int((starts[:, 0] == 7.0).sum()) == expect_buffer


@pytest.mark.parametrize("name,expected", [("inverted-pendulum", 0.5), ("hopper", 0.5),
                                           ("dclaw-turn", 0.0), ("reacher-7dof", 0.0)])
def test_start_state_default_follows_the_paper_by_task_horizon(name, expected):
    """[P]: half the rollouts from visited states on the long-horizon Gym tasks only; an explicit
    value always wins, and the CLI records the resolved number in the run's config."""
    task = tasks.make(name)
    assert NPGPolicyPlayer(task).start_fraction == expected
    assert NPGPolicyPlayer(task, NPGConfig(start_state_buffer_fraction=0.25)).start_fraction == 0.25
    args = run.build_parser().parse_args(["--task", name])
    assert run.config_from_args(args).npg.start_state_buffer_fraction == expected
    args = run.build_parser().parse_args(["--task", name, "--set", "npg.start_state_buffer_fraction=1"])
    assert run.config_from_args(args).npg.start_state_buffer_fraction == 1.0


def test_improve_runs_every_member_and_reports_kl():
    from stackelberg.models.deterministic import DynamicsEnsemble
    from stackelberg import ModelConfig

    task = tasks.make("inverted-pendulum")
    cfg = NPGConfig(num_trajectories=8, horizon_cap=15)
    player = NPGPolicyPlayer(task, cfg, seed=0)
    model = DynamicsEnsemble(4, 1, ModelConfig(ensemble_size=4, hidden_sizes=(16,)), seed=0)
    gen = torch.Generator().manual_seed(0)
    obs = torch.randn(100, 4, generator=gen) * 0.01
    model.set_statistics(obs, torch.randn(100, 1, generator=gen), obs * 1.01)
    initial = InitialStateBuffer()
    initial.add(torch.zeros(4))
    before = [p.clone() for p in player.policy.parameters()]
    report = player.improve(model, ReplayBuffer(), initial, steps=2)
    assert report.steps == 2 and report.kl > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, player.policy.parameters()))
    paths = player.rollouts(model, initial.sample(2, gen))
    assert paths.obs.shape[0] == 2 * 4  # every start on every member


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_end_to_end(tmp_path):
    from stackelberg.cli import run

    assert run.main(["--device", "cuda", "--samples", "400", "--initial-samples", "200",
                     "--samples-per-iteration", "200", "--model-epochs", "1", "--policy-steps", "1",
                     "--set", "npg.num_trajectories=8", "--set", "npg.horizon_cap=10",
                     "--no-progress", "--out", str(tmp_path / "cuda")]) == 0
