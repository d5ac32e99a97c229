# Runs before main.py on every boot: it only frees memory, so nothing here can keep the REPL from coming up.
import gc

gc.collect()
