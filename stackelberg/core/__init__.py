"""The game itself: the `Game` loop, `Schedule` (PAL/MAL/GDA/BR as data), the player protocols,
the buffers, the player registry and the run folder (`RunFolder`, `RunRecorder`)."""
