"""Run services between the config and the CLI: process set-up, building the players a config
names, the run folder and its recorder, the stop rule, TensorBoard logging."""
