"""The real world: collecting and evaluating episodes, perturbations that change the world during a
run, MuJoCo model edits."""
