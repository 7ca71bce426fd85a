"""`stackelberg.bench`: the baselines it times compute the same thing as the library's fast
paths (otherwise a speed-up would mean nothing), and the bench runs end to end."""
import json

import torch

from stackelberg import bench
from stackelberg import bench_baselines as base
from stackelberg.ensemble import EnsembleMLP
from stackelberg.policy import GaussianMLPPolicy


def test_double_backward_fisher_product_equals_the_closed_form():
    torch.manual_seed(0)
    policy = GaussianMLPPolicy(5, 2, (16, 16), init_log_std=-0.3).double()
    with torch.no_grad():  # away from the near-zero initial output layer
        for p in policy.parameters():
            p.add_(0.3 * torch.randn_like(p))
    obs = torch.randn(300, 5, dtype=torch.float64)
    v = torch.randn(sum(p.numel() for p in policy.parameters()), dtype=torch.float64)
    slow = base.autograd_fisher_vector_product(policy, obs, 1e-3)(v)
    fast = policy.fisher_vector_product(obs, 1e-3)(v)
    assert torch.allclose(slow, fast, rtol=1e-9, atol=1e-12)


def test_member_loop_is_the_same_ensemble():
    torch.manual_seed(0)
    net = EnsembleMLP(3, 6, 4, (8, 8))
    x = torch.randn(3, 10, 6)
    assert torch.allclose(base.loop_forward(base.member_loop(net), x), net(x), atol=1e-6)


def test_quick_bench_writes_every_section(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--tasks", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["matmul_gflops"] > 0
    assert result["fvp"]["max_relative_difference"] < 1e-4
    for key in ("loop_foreach_adam", "batched_foreach_adam", "batched_fused_adam", "batched_fused_adam_bf16"):
        assert result["ensemble_variants"][key]["gflops"] > 0
    assert "closed form" in capsys.readouterr().out
