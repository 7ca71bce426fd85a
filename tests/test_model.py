"""The dynamics ensemble: batched forward equals member-by-member, members differ, fitting works."""
import pytest
import torch

from stackelberg.core.buffers import ReplayBuffer, Trajectory
from stackelberg import ModelConfig
from stackelberg.models.deterministic import DynamicsEnsemble


def linear_world_trajectories(n: int = 600, seed: int = 0) -> list[Trajectory]:
    """n transitions of a stable linear system, in trajectories of 50 steps."""
    gen = torch.Generator().manual_seed(seed)
    a_mat = torch.tensor([[0.9, 0.1, 0.0], [0.0, 0.95, 0.05], [0.02, 0.0, 0.9]])
    b_mat = torch.tensor([[0.5], [0.0], [-0.3]])
    trajectories = []
    for _ in range(n // 50):
        s = torch.randn(3, generator=gen)
        obs, act, nxt = [], [], []
        for _ in range(50):
            a = torch.randn(1, generator=gen)
            s2 = a_mat @ s + b_mat @ a
            obs.append(s); act.append(a); nxt.append(s2)
            s = s2
        trajectories.append(Trajectory(torch.stack(obs), torch.stack(act), torch.stack(nxt),
                                       torch.zeros(50), False))
    return trajectories


def linear_world_buffer(n: int = 600, seed: int = 0) -> ReplayBuffer:
    buffer = ReplayBuffer()
    for trajectory in linear_world_trajectories(n, seed):
        buffer.add(trajectory)
    return buffer


def small_model(**kw) -> DynamicsEnsemble:
    return DynamicsEnsemble(3, 1, ModelConfig(ensemble_size=4, hidden_sizes=(32, 32), **kw), seed=1)


def test_batched_forward_equals_member_by_member_and_members_differ():
    model = small_model()
    model.set_statistics(torch.randn(50, 3), torch.randn(50, 1), torch.randn(50, 3))
    obs, act = torch.randn(7, 3), torch.randn(7, 1)
    batched = model.step(obs, act)
    assert batched.shape == (4, 7, 3)
    for e in range(4):
        member = model.net.member(e)
        delta = member(model._inputs(obs, act)) * (model.delta_scale + 1e-8) + model.delta_mean
        torch.testing.assert_close(batched[e], obs + model.delta_mask * delta)
    assert not torch.allclose(batched[0], batched[1])
    # (E, B, d) inputs go member by member
    per_member = model.step(obs.expand(4, 7, 3), act.expand(4, 7, 1))
    torch.testing.assert_close(per_member, batched)


def test_parameterisation_is_residual_with_data_statistics():
    model = small_model()
    obs, act = torch.randn(100, 3) * 5 + 2, torch.randn(100, 1)
    nxt = obs + torch.randn(100, 3) * 0.1 + 1.0
    model.set_statistics(obs, act, nxt)
    torch.testing.assert_close(model.obs_mean, obs.mean(0))
    torch.testing.assert_close(model.delta_mean, (nxt - obs).mean(0))
    torch.testing.assert_close(model.delta_scale, (nxt - obs).std(0, unbiased=False))
    with torch.no_grad():
        for p in model.net.parameters():
            p.zero_()
    # a zero network predicts s + mean delta
    torch.testing.assert_close(model.step(obs[:5], act[:5])[0], obs[:5] + model.delta_mean)


def test_mad_normalisation_option():
    model = small_model(normalization="mad")
    obs, act, nxt = torch.randn(100, 3), torch.randn(100, 1), torch.randn(100, 3)
    model.set_statistics(obs, act, nxt)
    torch.testing.assert_close(model.obs_scale, (obs - obs.mean(0)).abs().mean(0))


def test_fit_learns_linear_dynamics_and_respects_step_bounds():
    buffer = linear_world_buffer()
    data = buffer.tensors()
    model = small_model()
    before = model.loss(data["obs"], data["act"], data["next_obs"])
    report = model.fit(buffer, epochs=1, min_steps=300, max_steps=10_000)
    assert report.steps == 300  # 1 epoch = 3 steps, raised to the floor
    after = model.loss(data["obs"], data["act"], data["next_obs"])
    assert after.shape == (4,)
    assert (after < 0.1 * before).all()
    capped = small_model().fit(buffer, epochs=100, min_steps=1, max_steps=7)
    assert capped.steps == 7


def test_bfloat16_fit_learns_as_float32_does_and_keeps_float32_weights():
    """The low-precision fit changes only the arithmetic of the passes: same start, same
    mini-batches, a held-out loss within a few per cent of float32's, float32 parameters."""
    buffer, held_out = linear_world_buffer(), linear_world_buffer(seed=1).tensors()
    losses = {}
    for precision in ("float32", "bfloat16"):
        model = small_model(fit_precision=precision)
        model.fit(buffer, epochs=100, min_steps=0)
        losses[precision] = model.loss(held_out["obs"], held_out["act"], held_out["next_obs"]).mean()
        assert all(p.dtype == torch.float32 for p in model.net.parameters())
        assert model.step(held_out["obs"], held_out["act"]).dtype == torch.float32
    assert losses["float32"] < 0.01
    assert losses["bfloat16"] == pytest.approx(losses["float32"].item(), rel=0.25, abs=1e-3)


def test_members_see_their_own_minibatch_order():
    """Same data, own permutation: identical initial members diverge after training."""
    model = small_model()
    with torch.no_grad():
        for p in model.net.parameters():
            p.copy_(p[0:1].expand_as(p))
    model.fit(linear_world_buffer(), epochs=2, min_steps=1, max_steps=100)
    w = model.net.net[0].weight
    assert not torch.allclose(w[0], w[1])


def test_predictions_are_clamped():
    model = small_model(clamp_state=5.0)
    model.set_statistics(torch.randn(50, 3), torch.randn(50, 1), torch.randn(50, 3) * 100)
    out = model.step(torch.full((4, 3), 4.9), torch.ones(4, 1) * 50)
    assert out.abs().max() <= 5.0


@pytest.mark.parametrize("capacity,expected", [(None, 600), (120, 100)])
def test_replay_buffer_keeps_last_b_whole_trajectories(capacity, expected):
    source = linear_world_trajectories()
    buffer = ReplayBuffer(capacity)
    for traj in source:
        buffer.add(traj)
    assert len(buffer) == expected
    newest = source[-1]
    torch.testing.assert_close(buffer.tensors()["obs"][-50:], newest.obs)


def test_symmetry_augmentation_trains_on_the_buffer_and_its_mirror_image():
    from stackelberg.tasks.base import Symmetry

    buffer = linear_world_buffer()
    odd = Symmetry((0, 1, 2), (-1.0, -1.0, -1.0), (0,), (-1.0,))  # a linear world is odd
    plain, mirrored = small_model(), DynamicsEnsemble(
        3, 1, ModelConfig(ensemble_size=4, hidden_sizes=(32, 32)), seed=1, symmetry=odd)
    steps_plain = plain.fit(buffer, epochs=2, min_steps=1).steps
    steps_mirrored = mirrored.fit(buffer, epochs=2, min_steps=1).steps
    assert steps_mirrored == 2 * steps_plain  # twice the data per epoch
    data = buffer.tensors()
    both = torch.cat([data["obs"], -data["obs"]])
    torch.testing.assert_close(mirrored.obs_mean, torch.zeros(3))  # statistics of the union
    torch.testing.assert_close(mirrored.obs_scale, both.std(0, unbiased=False))
    assert plain.obs_mean.abs().max() > 1e-3
    assert len(buffer.tensors()["obs"]) == len(data["obs"])  # the buffer itself is untouched


def test_auto_fit_precision_is_bfloat16_only_where_the_cpu_has_it_and_the_record_says_which(
        tmp_path, monkeypatch):
    """"auto" resolves once, in the run's config: bfloat16 for the deterministic ensemble on a
    CPU with native bfloat16, float32 without it, for MBPO's ensemble and on CUDA; a chosen
    precision is kept; a config.toml from before the key resumes in float32, as it ran."""
    from stackelberg.config import config_to_toml, load_saved_config, resolve_config
    from stackelberg.core import hardware
    from stackelberg.models.config import fit_in_bfloat16

    for native in (True, False):
        monkeypatch.setattr(hardware, "cpu_has_native_bfloat16", lambda: native)
        expected = "bfloat16" if native else "float32"
        assert resolve_config(None, []).model.fit_precision == expected
        assert fit_in_bfloat16("auto", "cpu") is native and fit_in_bfloat16("auto", "cuda") is False
        assert resolve_config(None, [("run.policy", "mbpo")]).model.fit_precision == "float32"
        assert resolve_config(None, [("model.fit_precision", "float32")]).model.fit_precision == "float32"
        assert resolve_config(None, [("model.fit_precision", "bfloat16")]).model.fit_precision == "bfloat16"
    assert fit_in_bfloat16("bfloat16", "cpu") and not fit_in_bfloat16("float32", "cpu")
    monkeypatch.setattr(hardware, "cpu_has_native_bfloat16", lambda: True)
    text = config_to_toml(resolve_config(None, []))
    assert 'fit_precision = "bfloat16"' in text
    old = tmp_path / "old.toml"
    old.write_text("\n".join(line for line in text.splitlines() if not line.startswith("fit_precision")))
    assert load_saved_config(old).model.fit_precision == "float32"


def test_cpu_flags_are_read_from_proc_cpuinfo(monkeypatch, tmp_path):
    from stackelberg.core import hardware

    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setattr(hardware, "Path", lambda _: cpuinfo)
    for flags, native in (("fpu avx2 avx512f", False), ("fpu avx512f avx512_bf16", True),
                          ("fpu amx_tile amx_bf16", True)):
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        hardware.cpu_has_native_bfloat16.cache_clear()
        assert hardware.cpu_has_native_bfloat16() is native
    cpuinfo.unlink()
    hardware.cpu_has_native_bfloat16.cache_clear()
    assert hardware.cpu_has_native_bfloat16() is False
    monkeypatch.undo()
    hardware.cpu_has_native_bfloat16.cache_clear()
