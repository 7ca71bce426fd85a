"""The deterministic ensemble's early-stopped fit: whole trajectories held out, and the fit stops
where the held-out loss stops improving, each member restored to its best epoch."""
import copy

import torch

from stackelberg.core.buffers import ReplayBuffer, Trajectory
from stackelberg import ModelConfig
from stackelberg.models.early_stopping import MemberEarlyStopping
from stackelberg.models.deterministic import DynamicsEnsemble


def noisy_buffer(trajectories: int = 8, length: int = 10, seed: int = 0) -> ReplayBuffer:
    """Few noisy transitions: a big network overfits them, so the held-out loss turns."""
    gen = torch.Generator().manual_seed(seed)
    buffer = ReplayBuffer()
    for _ in range(trajectories):
        obs = torch.randn(length, 3, generator=gen)
        act = torch.randn(length, 1, generator=gen)
        nxt = 0.9 * obs + 0.3 * act + 0.5 * torch.randn(length, 3, generator=gen)
        buffer.add(Trajectory(obs, act, nxt, torch.zeros(length), False))
    return buffer


def model(**kw) -> DynamicsEnsemble:
    cfg = ModelConfig(ensemble_size=3, hidden_sizes=(256, 256), batch_size=16, lr=3e-3, **kw)
    return DynamicsEnsemble(3, 1, cfg, seed=4)


def held_out_losses(m: DynamicsEnsemble) -> list[torch.Tensor]:
    """Every per-member loss `m` computes from now on: in a fit with a holdout, one per epoch on
    the held-out transitions, then one for the restored members."""
    seen: list[torch.Tensor] = []
    original = m.loss

    def recording(*args: torch.Tensor) -> torch.Tensor:
        seen.append(original(*args))
        return seen[-1]

    m.loss = recording  # a spy on this one instance
    return seen


def test_holdout_is_whole_trajectories_of_at_least_the_fraction():
    buffer = noisy_buffer(trajectories=10, length=7)
    m = model(holdout_fraction=0.25)
    train, held = m._split_holdout(buffer.tensors(), buffer.trajectory_lengths())
    assert held["obs"].shape[0] % 7 == 0 and held["obs"].shape[0] >= 0.25 * 70
    assert train["obs"].shape[0] + held["obs"].shape[0] == 70
    # every held-out row block is one whole stored trajectory
    whole = buffer.tensors()["obs"].reshape(10, 7, 3)
    for block in held["obs"].reshape(-1, 7, 3):
        assert any(torch.equal(block, t) for t in whole)
    # a single trajectory cannot be split: no holdout
    one = noisy_buffer(trajectories=1)
    assert m._split_holdout(one.tensors(), one.trajectory_lengths())[1] is None


def test_fit_stops_where_the_held_out_loss_turns_and_restores_the_best_epoch():
    buffer = noisy_buffer()
    patience, threshold = 3, 0.01
    stopped = model(holdout_fraction=0.25, holdout_patience=patience, holdout_threshold=threshold)
    # the same model, same seed, never stopping: its held-out curve is the brute-force reference
    reference = model(holdout_fraction=0.25, holdout_patience=10_000, holdout_threshold=threshold)
    reference_losses = held_out_losses(reference)
    reference.fit(buffer, epochs=60, min_steps=0, max_steps=10**6)
    assert len(reference_losses) == 60 + 1  # every epoch, then the restored members
    curve = torch.stack(reference_losses[:-1])  # (epochs, members)
    # the reference overfits: its held-out loss has a minimum well before the last epoch
    assert (curve.argmin(0) < curve.shape[0] - patience - 1).all()

    # brute force: walk the curve with the rule (relative improvement > threshold resets)
    best = torch.full((3,), float("inf")); since = 0; stop_epoch = None
    for epoch, row in enumerate(curve, start=1):
        improved = row < best * (1 - threshold)
        best = torch.where(improved, row, best)
        since = 0 if improved.any() else since + 1
        if since > patience:
            stop_epoch = epoch
            break
    assert stop_epoch is not None

    stopped_losses = held_out_losses(stopped)
    report = stopped.fit(buffer, epochs=60, min_steps=0, max_steps=10**6)
    assert len(stopped_losses) == stop_epoch + 1
    torch.testing.assert_close(torch.stack(stopped_losses[:-1]), curve[:stop_epoch])
    # each member is back at its own best epoch: its held-out loss is that epoch's
    # a fresh model draws the same split (the generator's first use in a fit)
    train, held = model(holdout_fraction=0.25)._split_holdout(buffer.tensors(), buffer.trajectory_lengths())
    restored = stopped.loss(held["obs"], held["act"], held["next_obs"])
    torch.testing.assert_close(restored, best)
    assert abs(report.holdout_loss - best.mean().item()) < 1e-5
    steps_per_epoch = 60 // 16  # 60 training transitions (2 of 8 trajectories held out)
    assert report.steps == stop_epoch * steps_per_epoch


def test_min_steps_delays_the_stop_and_zero_fraction_is_the_papers_fixed_fit():
    buffer = noisy_buffer()
    late = model(holdout_fraction=0.25, holdout_patience=0).fit(buffer, epochs=60, min_steps=90,
                                                                   max_steps=10**6)
    assert late.steps >= 90
    fixed = model().fit(copy.deepcopy(buffer), epochs=7, min_steps=0, max_steps=10**6)
    assert fixed.steps == 7 * (80 // 16) and fixed.holdout_loss != fixed.holdout_loss  # NaN


def test_member_early_stopping_snapshots_only_improving_members():
    weight = torch.zeros(2, 3)
    stopper = MemberEarlyStopping([weight], threshold=0.0, patience=1)
    weight += 1.0
    assert not stopper.update(torch.tensor([1.0, 1.0]))  # both improve on inf
    weight += 1.0
    assert not stopper.update(torch.tensor([0.5, 2.0]))  # member 0 improves, member 1 not
    weight += 1.0
    assert not stopper.update(torch.tensor([0.6, 2.0]))  # nobody: 1 epoch without
    assert stopper.update(torch.tensor([0.6, 2.0]))  # 2 > patience 1: stop
    stopper.restore()
    torch.testing.assert_close(weight, torch.tensor([[2.0] * 3, [1.0] * 3]))


def test_every_solver_defaults_to_the_papers_fit_and_old_records_keep_their_settings(tmp_path):
    """[P]'s fixed epochs for every solver (the held-out stop is an option: PAL learns
    DKitty-Orient slower with it); a flag sets it; a config.toml records it and resumes with it;
    one written before `run.flush_denormal` existed resumes without flushing, as it ran."""
    from stackelberg.config import config_to_toml, load_saved_config, resolve_config

    chosen = {a: resolve_config(None, [("run.algo", a)]).model.holdout_fraction
              for a in ("pal", "br", "mal", "gda")}
    assert chosen == {"pal": 0.0, "br": 0.0, "mal": 0.0, "gda": 0.0}
    text = config_to_toml(resolve_config(None, [("run.algo", "pal"), ("model.holdout_fraction", "0.2")]))
    saved = tmp_path / "new.toml"
    saved.write_text(text)
    assert load_saved_config(saved).model.holdout_fraction == 0.2
    old = tmp_path / "old.toml"
    old.write_text("\n".join(line for line in text.splitlines()
                             if not line.startswith(("holdout_fraction", "flush_denormal"))))
    assert load_saved_config(saved).run.flush_denormal is True
    assert load_saved_config(old).model.holdout_fraction == 0.0
    assert load_saved_config(old).run.flush_denormal is False
