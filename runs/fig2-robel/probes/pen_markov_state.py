"""Is pen-v0's 45-dim observation a Markov state? (issue 29: the pen model's fresh loss near 0.9)

pen-v0 observes the hand's 24 joint angles but not their velocities. The fingers sit on soft
position servos (kp = 1), so where a finger goes next depends on how fast it already moves.
This probe collects random-policy episodes (a slowly drifting mean action plus N(0, 0.37^2) noise,
like NPG's initial policy), fits the same MLP to the state change from (obs, action) with and
without the hand's joint velocities, and prints the held-out error per observation part,
normalised by each coordinate's variance on the training episodes (1 = no better than the mean
change). Held-out = the last quarter of the episodes.

    .venv/bin/python runs/fig2-robel/probes/pen_markov_state.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run from anywhere in the checkout

from stackelberg.tasks.pen import HAND_JOINTS, make_pen_env  # noqa: E402

PARTS = {"hand joint angles": slice(0, 24), "pen position": slice(24, 27),
         "pen linear velocity": slice(27, 30), "pen angular velocity": slice(30, 33),
         "pen direction": slice(33, 36)}


def collect(episodes: int, seed: int) -> tuple[np.ndarray, ...]:
    env = make_pen_env(seed)
    rng = np.random.default_rng(seed)
    obs_, vel_, act_, next_ = [], [], [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        mean, done = np.zeros(24), False
        while not done:
            mean = 0.9 * mean + 0.1 * rng.normal(0.0, 1.0, 24)
            act = np.clip(mean + rng.normal(0.0, 0.37, 24), -1.0, 1.0)
            vel = env.unwrapped.data.qvel[:HAND_JOINTS].copy()
            nxt, _, terminated, truncated, _ = env.step(act)
            obs_.append(obs); vel_.append(vel); act_.append(act); next_.append(nxt)
            obs, done = nxt, terminated or truncated
    return tuple(np.asarray(x, np.float32) for x in (obs_, vel_, act_, next_))


def heldout_error(x: np.ndarray, y: np.ndarray, cut: int, epochs: int = 300) -> np.ndarray:
    """Per-output held-out MSE of an MLP fitted on rows [:cut], in the targets' normalised units."""
    torch.manual_seed(0)
    mx, sx = x[:cut].mean(0), x[:cut].std(0) + 1e-6
    my, sy = y[:cut].mean(0), y[:cut].std(0) + 1e-6
    xt, yt = torch.tensor((x - mx) / sx), torch.tensor((y - my) / sy)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 256), torch.nn.SiLU(),
                              torch.nn.Linear(256, 256), torch.nn.SiLU(),
                              torch.nn.Linear(256, y.shape[1]))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(epochs):
        for batch in torch.randperm(cut).split(256):
            loss = ((net(xt[batch]) - yt[batch]) ** 2).mean()
            opt.zero_grad(); loss.backward(); opt.step()
    with torch.no_grad():
        return ((net(xt[cut:]) - yt[cut:]) ** 2).mean(0).numpy()


def main() -> None:
    torch.set_num_threads(1)
    obs, vel, act, nxt = collect(episodes=40, seed=0)
    change, cut = nxt - obs, int(0.75 * len(obs))
    print(f"{len(obs)} transitions, fitted on {cut}, held out {len(obs) - cut}")
    print(f"{'inputs':22s}" + "".join(f"{p:>22s}" for p in PARTS))
    for name, inputs in (("obs (45) + action", np.hstack([obs, act])),
                         ("obs + hand qvel + act", np.hstack([obs, vel, act]))):
        err = heldout_error(inputs, change, cut)
        print(f"{name:22s}" + "".join(f"{err[s].mean():22.3f}" for s in PARTS.values()))


if __name__ == "__main__":
    main()
