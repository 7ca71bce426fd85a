"""Flags shared by the tests that drive `python -m stackelberg.run`: a PAL run on the pendulum
small enough to finish in seconds (two iterations of 250 samples, tiny players)."""

FAST = ["--samples", "500", "--initial-samples", "250", "--samples-per-iteration", "250",
        "--model-epochs", "1", "--model-min-steps", "5", "--policy-steps", "1", "--eval-episodes", "1",
        "--set", "npg.num_trajectories=8", "--set", "npg.horizon_cap=20",
        "--set", "model.hidden_sizes=32,32", "--no-progress"]
