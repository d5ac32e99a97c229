# What the virtual board runs at power-on (`micropython -i boot_sim.py`); the work is in simboot,
# loaded as bytecode. The REPL that follows sees main.py's globals, as on a board.
import simboot

simboot.boot(globals())
del simboot
