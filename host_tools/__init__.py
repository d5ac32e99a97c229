"""Host-side tools for zoo_micro: CLI, bridge, virtual board, build, flash and deploy."""
