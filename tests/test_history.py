"""History windows line up with the transitions: no off-by-one, no leak across episodes."""
import pytest
import torch

from stackelberg.core.buffers import ReplayBuffer, Trajectory
from stackelberg.core.history import history_windows, replay_history_windows, step_features

LENGTHS = [3, 5, 1, 4]


def numbered_steps(lengths, width: int = 2) -> torch.Tensor:
    """Row t's features are all t + 1, so a window's contents name the rows it holds (0 = pad)."""
    total = sum(lengths)
    return (torch.arange(total, dtype=torch.float64) + 1).unsqueeze(-1).repeat(1, width)


def brute_force(lengths, length: int, through: bool) -> list[list[int]]:
    """Row numbers (1-based, 0 = padding) of each row's window, by loops."""
    windows, start = [], 0
    for n in lengths:
        for t in range(start, start + n):
            end = t + 1 if through else t
            windows.append([s + 1 if s >= start else 0 for s in range(end - length, end)])
        start += n
    return windows


@pytest.mark.parametrize("length", [1, 2, 4, 7])
@pytest.mark.parametrize("through", [False, True])
def test_windows_equal_brute_force(length, through):
    steps = numbered_steps(LENGTHS)
    got = history_windows(steps, LENGTHS, length, through=through)
    expected = torch.tensor(brute_force(LENGTHS, length, through), dtype=torch.float64)
    assert got.steps.shape == (sum(LENGTHS), length, 2) and got.mask.shape == (sum(LENGTHS), length)
    torch.testing.assert_close(got.steps[..., 0], expected)
    torch.testing.assert_close(got.steps[..., 1], expected)
    torch.testing.assert_close(got.mask, expected > 0)


def test_window_at_t_holds_t_minus_l_to_t_minus_1_padded_at_the_episode_start():
    steps = numbered_steps(LENGTHS, width=1)
    w = history_windows(steps, LENGTHS, 4)
    rows = lambda i: w.steps[i, :, 0].long().tolist()  # noqa: E731
    assert rows(0) == [0, 0, 0, 0] and not w.mask[0].any()  # an episode's first step: no past
    assert rows(2) == [0, 0, 1, 2]  # row 2 sees rows 0 and 1, never itself
    assert w.mask[2].tolist() == [False, False, True, True]
    assert rows(3) == [0, 0, 0, 0]  # the second episode's first step: nothing of the first
    assert rows(7) == [4, 5, 6, 7]  # row 7 (its episode's fifth step): rows 3..6 (1-based 4..7)
    assert rows(8) == [0, 0, 0, 0]  # a one-step episode
    through = history_windows(steps, LENGTHS, 4, through=True)
    assert through.steps[2, :, 0].long().tolist() == [0, 1, 2, 3]  # ... up to and with row 2
    assert through.steps[8, :, 0].long().tolist() == [0, 0, 0, 9]


def test_selected_rows_match_the_full_computation():
    steps = torch.randn(sum(LENGTHS), 5, dtype=torch.float64)
    full = history_windows(steps, LENGTHS, 3)
    rows = torch.tensor([12, 0, 4, 4, 8])
    some = history_windows(steps, LENGTHS, 3, rows=rows)
    torch.testing.assert_close(some.steps, full.steps[rows])
    torch.testing.assert_close(some.mask, full.mask[rows])


def test_replay_windows_carry_observation_action_reward_in_order():
    replay = ReplayBuffer()
    trajectories = []
    for n in (4, 2):
        obs = torch.randn(n + 1, 3)
        traj = Trajectory(obs=obs[:-1], act=torch.randn(n, 2), next_obs=obs[1:],
                          reward=torch.randn(n), terminated=False)
        replay.add(traj)
        trajectories.append(traj)
    w = replay_history_windows(replay, 2)
    first, second = trajectories
    # row 3 (first episode, step 3): steps 1 and 2 of that episode
    torch.testing.assert_close(w.steps[3, 0], torch.cat([first.obs[1], first.act[1], first.reward[1:2]]))
    torch.testing.assert_close(w.steps[3, 1], torch.cat([first.obs[2], first.act[2], first.reward[2:3]]))
    # row 5 (second episode, step 1): its step 0, and padding where the first episode was
    torch.testing.assert_close(w.steps[5, 1], step_features(second.obs, second.act, second.reward)[0])
    assert w.mask[5].tolist() == [False, True] and (w.steps[5, 0] == 0).all()


def test_bad_arguments_are_named():
    steps = torch.zeros(5, 2)
    with pytest.raises(ValueError, match="history length must be a positive int"):
        history_windows(steps, [5], 0)
    with pytest.raises(ValueError, match="add up to the 5 rows"):
        history_windows(steps, [2, 2], 3)
    with pytest.raises(ValueError, match="must be positive"):
        history_windows(steps, [5, 0], 3)
