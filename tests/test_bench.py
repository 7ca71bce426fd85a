"""`stackelberg.analysis.bench`: the baselines it times compute the same thing as the library's fast
paths (otherwise a speed-up would mean nothing), and the bench runs end to end."""
import json

import pytest
import torch

from stackelberg.cli import bench as bench_cli
from stackelberg.analysis import bench
from stackelberg.analysis import bench_baselines as base
from stackelberg.models.ensemble import EnsembleMLP
from stackelberg.config import ModelConfig
from stackelberg.models.deterministic import DynamicsEnsemble
from stackelberg.npg.policy import GaussianMLPPolicy
from stackelberg.npg.step import fisher_vector_product


def test_double_backward_fisher_product_equals_the_closed_form():
    torch.manual_seed(0)
    policy = GaussianMLPPolicy(5, 2, (16, 16), init_log_std=-0.3).double()
    with torch.no_grad():  # away from the near-zero initial output layer
        for p in policy.parameters():
            p.add_(0.3 * torch.randn_like(p))
    obs = torch.randn(300, 5, dtype=torch.float64)
    v = torch.randn(sum(p.numel() for p in policy.parameters()), dtype=torch.float64)
    slow = fisher_vector_product(policy, obs, 1e-3)(v)
    fast = policy.fisher_vector_product(obs, 1e-3)(v)
    assert torch.allclose(slow, fast, rtol=1e-9, atol=1e-12)


def test_member_loop_is_the_same_ensemble():
    torch.manual_seed(0)
    net = EnsembleMLP(3, 6, 4, (8, 8))
    x = torch.randn(3, 10, 6)
    assert torch.allclose(base.loop_forward(base.member_loop(net), x), net(x), atol=1e-6)


def test_flop_count_is_the_ensembles_matmuls():
    """2 * in * out per layer and member: 4 members of 5+2 -> 8 -> 8 -> 5."""
    model = DynamicsEnsemble(5, 2, ModelConfig(ensemble_size=4, hidden_sizes=(8, 8)))
    assert bench.ensemble_flops_per_row(model) == 4 * 2 * (7 * 8 + 8 * 8 + 8 * 5)


def test_the_timed_train_steps_are_the_same_update():
    """Every variant the bench times takes the same Adam step from the same weights: a speed-up
    of one over another is then a speed-up of the same computation."""
    torch.manual_seed(0)
    net = EnsembleMLP(3, 6, 4, (8,))
    members = base.member_loop(net)
    x, y = torch.randn(3, 10, 6), torch.randn(3, 10, 4)
    batched = EnsembleMLP(3, 6, 4, (8,))
    batched.load_state_dict(net.state_dict())
    before = batched(x).detach()
    base.train_step(lambda t: base.loop_forward(members, t), torch.optim.Adam(members.parameters()), x, y)
    base.train_step(batched, torch.optim.Adam(batched.parameters(), fused=True), x, y)
    assert torch.allclose(base.loop_forward(members, x), batched(x), atol=1e-6)
    assert not torch.allclose(batched(x), before, atol=1e-4)  # a step was taken


def test_quick_bench_writes_every_section(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench_cli.main(["--quick", "--tasks", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["fvp"]["max_relative_difference"] < 1e-4
    variants = result["ensemble_variants"]
    keys = ("loop_foreach_adam", "batched_foreach_adam", "batched_fused_adam", "batched_fused_adam_bf16")
    # one flop count for all: gflops * seconds is the same computation in every variant
    work = [variants[k]["gflops"] * variants[k]["seconds"] for k in keys]
    assert max(work) == pytest.approx(min(work), rel=1e-9)
    assert "closed form" in capsys.readouterr().out
