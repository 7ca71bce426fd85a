"""Schedule semantics in the real game loop, with recording stub players."""
import dataclasses
import math

import pytest
import torch

from stackelberg import tasks
from stackelberg import BR, GDA, MAL, PAL, Game
from stackelberg.core.errors import NonFiniteError
from stackelberg.core.protocols import FitReport, ImproveReport


class CountingModel:
    ensemble_size = 2

    def __init__(self):
        self.fits = 0
        self.fit_buffer_sizes = []

    def fit(self, buffer, epochs, min_steps, max_steps):
        self.fits += 1
        self.fit_buffer_sizes.append(len(buffer))
        return FitReport(steps=1, train_loss=0.0)

    def step(self, obs, act):
        obs = obs if obs.dim() == 3 else obs.expand(self.ensemble_size, *obs.shape)
        return obs.clone()

    def loss(self, obs, act, next_obs):
        return torch.zeros(self.ensemble_size)

    def state_dict(self):
        return {"fits": self.fits}

    def load_state_dict(self, state):
        self.fits = state["fits"]


class RecordingPolicy:
    def __init__(self):
        self.seen_model_fits = []

    def act(self, obs, deterministic=False):
        return torch.zeros(obs.shape[:-1] + (1,))

    def improve(self, model, replay, initial_states, steps):
        self.seen_model_fits.append(model.fits)
        return ImproveReport(steps=steps, kl=0.0, model_return=0.0)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def play(schedule, samples=1500):
    task = tasks.make("inverted-pendulum")
    model, policy = CountingModel(), RecordingPolicy()
    game = Game(task, policy, model, schedule, eval_episodes=1)
    reports = list(game.play(samples))
    return game, model, policy, reports


SMALL = dict(initial_samples=300, samples_per_iteration=200, policy_steps=1)


@pytest.mark.parametrize("factory", [PAL, MAL])
def test_sequential_schedules_improve_on_the_model_fitted_this_iteration(factory):
    _, model, policy, reports = play(factory(**SMALL))
    assert len(reports) >= 4
    assert policy.seen_model_fits == [k + 1 for k in range(len(reports))]


@pytest.mark.parametrize("factory", [GDA, BR])
def test_simultaneous_schedules_improve_on_the_previous_model(factory):
    _, model, policy, reports = play(factory(**SMALL))
    # iteration 0 has no M_0 to use, so it fits first; afterwards the policy sees M_k
    assert policy.seen_model_fits == [1] + [k for k in range(1, len(reports))]
    assert model.fits == len(reports)


def test_fit_reports_reach_the_row_and_a_non_finite_fit_stops_before_the_policy_moves():
    class HoldingOut(CountingModel):
        def fit(self, buffer, epochs, min_steps, max_steps):
            super().fit(buffer, epochs, min_steps, max_steps)
            loss = float("nan") if self.fits == 3 else 0.0
            return FitReport(steps=1, train_loss=loss, holdout_loss=0.25 * self.fits)

    model, policy = HoldingOut(), RecordingPolicy()
    game = Game(tasks.make("inverted-pendulum"), policy, model, PAL(**SMALL), eval_episodes=1)
    plays = game.play(10_000)
    rows = [next(plays).row() for _ in range(2)]
    assert [row["model_holdout_loss"] for row in rows] == [0.25, 0.5]
    with pytest.raises(NonFiniteError, match="iteration 2"):
        next(plays)
    assert policy.seen_model_fits == [1, 2]  # never improved on the third, broken model


def test_mal_keeps_all_data_and_pal_only_the_last_b():
    game, model, _, reports = play(MAL(**SMALL), samples=2000)
    assert len(game.replay) == game.samples
    assert model.fit_buffer_sizes[-1] == game.samples
    game, model, _, _ = play(PAL(buffer_capacity=400, **SMALL), samples=2000)
    assert game.samples >= 2000
    newest = game.replay.trajectory_lengths()[-1]
    assert len(game.replay) <= max(400, newest)
    assert max(model.fit_buffer_sizes) <= 400 + 60  # at most one (short) trajectory over
    assert len(game.initial_states) > game.replay.num_trajectories  # never trimmed


def test_sample_budget_per_iteration():
    _, _, _, reports = play(PAL(**SMALL), samples=1000)
    samples = [r.samples for r in reports]
    assert 300 <= samples[0] < 300 + 1000  # N_init, overshoot at most one episode
    steps = [b - a for a, b in zip(samples, samples[1:])]
    assert all(200 <= s < 200 + 1000 for s in steps[:-1])
    assert samples[-1] >= 1000


def test_defaults_keep_the_papers_leader_follower_roles():
    """[P] Table 1 as relations, not numbers: in PAL the model is the aggressive player (a
    small recent buffer, many epochs) and the policy the conservative one (few NPG steps); MAL
    is the other way round; BR is aggressive in both, GDA conservative in both, and both of
    them move simultaneously. Every iteration collects at least one whole episode."""
    pal, mal, gda, br = PAL(), MAL(), GDA(), BR()
    assert pal.buffer_capacity is not None and mal.buffer_capacity is None
    assert pal.model_epochs > mal.model_epochs and pal.policy_steps < mal.policy_steps
    assert (br.model_epochs, br.policy_steps) == (pal.model_epochs, mal.policy_steps)
    assert (gda.model_epochs, gda.policy_steps) == (mal.model_epochs, pal.policy_steps)
    assert gda.simultaneous and br.simultaneous and not pal.simultaneous and not mal.simultaneous
    for schedule in (pal, mal, gda, br):
        for horizon in (40, 100, 1000):
            assert schedule.samples_for(horizon) >= horizon
    assert mal.samples_for(1000) > pal.samples_for(1000)  # MAL's conservative model sees more


def test_reports_judge_the_collected_episodes_with_the_task_functions():
    """train_success / train_score: the task's success and score functions on the episodes the
    exploring policy collected this iteration (here: success = the episode lasted >= 25 steps,
    score = its length), checked against the trajectories themselves."""
    task = dataclasses.replace(
        tasks.make("inverted-pendulum"),
        success_fn=lambda episode_obs: torch.tensor(episode_obs.shape[-2] - 1 >= 25),
        score_fn=lambda episode_obs: torch.tensor(float(episode_obs.shape[-2] - 1)))
    collected = {}
    game = Game(task, RecordingPolicy(), CountingModel(), PAL(**SMALL), eval_episodes=1,
                on_collect=lambda it, trajs: collected.__setitem__(it, [len(t) for t in trajs]))
    reports = list(game.play(800))
    rates = []
    for r in reports:
        lengths = collected[r.iteration]
        rates.append(sum(n >= 25 for n in lengths) / len(lengths))
        assert r.train_success == pytest.approx(rates[-1])
        assert r.train_score == pytest.approx(sum(lengths) / len(lengths))
    assert 0 < min(rates) and max(rates) < 1  # both outcomes in every batch: the check can fail
    # a task without the functions reports NaN, not a number
    _, _, _, plain = play(PAL(**SMALL), samples=400)
    assert all(math.isnan(r.train_success) and math.isnan(r.train_score) for r in plain)
