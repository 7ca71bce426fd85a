"""After a divergence the run names the step size of the player whose parameters went
non-finite, read from that player's registration: a knob of its own section that a resume may
change. Checked for every built-in player on the real players' state dicts."""
from types import SimpleNamespace

import pytest
import torch

from stackelberg import tasks
from stackelberg.cli import run
from stackelberg.config import resolve_config, resumable_keys
from stackelberg.core.errors import NonFiniteError
from stackelberg.runner.players import build_players


def _poisoned(state, part):
    """`state` with the first floating tensor whose dotted name contains `.part.` set to NaN."""
    def walk(tree, prefix):
        if isinstance(tree, torch.Tensor):
            if tree.is_floating_point() and f".{part}." in f".{prefix}." and "optimizer" not in prefix:
                tree.fill_(float("nan"))
                return True
            return False
        if isinstance(tree, dict):
            return any(walk(v, f"{prefix}.{k}" if prefix else str(k)) for k, v in tree.items())
        return False

    assert walk(state, ""), f"no tensor named *{part}* in the state dict"
    return state


@pytest.mark.parametrize("policy,model_player,which,part,knob", [
    ("npg", "auto", "policy", "policy", "npg.delta"),
    ("npg", "auto", "policy", "value", "npg.value_lr"),
    ("npg", "auto", "model", "net", "model.lr"),
    ("mbpo", "auto", "policy", "actor", "mbpo.lr"),
    ("mbpo", "auto", "model", "net", "probabilistic_model.lr"),
    ("sac", "auto", "policy", "actor", "sac.lr"),
    ("memb", "auto", "policy", "actor", "memb.pi_lr"),
    ("memb", "auto", "policy", "v", "memb.value_lr"),
    ("memb", "auto", "model", "net", "probabilistic_model.lr"),
    ("npg", "probabilistic", "model", "net", "probabilistic_model.lr"),
])
def test_each_players_divergence_advice_names_its_own_resumable_knob(tmp_path, policy, model_player,
                                                                     which, part, knob):
    config = resolve_config(None, [("run.policy", policy), ("run.model_player", model_player)])
    policy_player, model = build_players(config, tasks.make(config.run.task))
    game = SimpleNamespace(policy=policy_player, model=model)
    player = getattr(game, which)
    state = _poisoned(player.state_dict(), part)
    player.state_dict = lambda: state
    # the other player is healthy (an unfitted ensemble's held-out loss is still inf)
    getattr(game, "model" if which == "policy" else "policy").state_dict = lambda: {}
    err = NonFiniteError("a loss went non-finite")
    assert run.knob_to_lower(err, game, config) == knob
    assert knob.split(".")[0] in {config.run.policy if which == "policy" else None,
                                  "model" if which == "model" else None,
                                  "probabilistic_model" if which == "model" else None}
    assert knob in resumable_keys(config)
    message = run.divergence_message(err, game, config, tmp_path, saved=(3, 300))
    value = getattr(config.section(knob.split(".")[0]), knob.split(".")[1])
    assert message.splitlines()[-1].endswith(f"--set {knob}={value / 2:g}")


def test_sac_advice_is_not_an_npg_knob(tmp_path):
    """The advised command must change something SAC reads."""
    config = resolve_config(None, [("run.policy", "sac")])
    policy_player, model = build_players(config, tasks.make(config.run.task))
    state = _poisoned(policy_player.state_dict(), "actor")
    policy_player.state_dict = lambda: state
    model.state_dict = lambda: {}
    game = SimpleNamespace(policy=policy_player, model=model)
    message = run.divergence_message(NonFiniteError("x"), game, config, tmp_path, saved=None)
    assert "npg." not in message and "--set sac.lr=0.00015" in message
