"""ROBEL tasks (DClaw-Turn, DKitty-Orient) simulated with MuJoCo 4, using only robel's model files.

Needs `robel==0.1.2` installed with `--no-deps` (it is never imported; see `assets.py`).
"""
from stackelberg.tasks.robel.assets import RobelMissingError, asset_root
from stackelberg.tasks.robel.dclaw import (DClawTurnEnv, dclaw_turn, dclaw_turn_fixed, dclaw_turn_vel,
                                           make_dclaw_turn_env)
from stackelberg.tasks.robel.dkitty import DKittyOrientEnv, dkitty_orient, make_dkitty_orient_env

__all__ = [
    "RobelMissingError",
    "asset_root",
    "DClawTurnEnv",
    "DKittyOrientEnv",
    "dclaw_turn",
    "dclaw_turn_fixed",
    "dclaw_turn_vel",
    "dkitty_orient",
    "make_dclaw_turn_env",
    "make_dkitty_orient_env",
]
