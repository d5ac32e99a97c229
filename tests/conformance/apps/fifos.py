# zoo-framework's SingleFIFO as its users call it: each value queued once, its position returned.
from keeper import note, report

# --- imports: the only lines that differ between zoo-framework and zoo_micro ---
from zoo_framework.fifo import SingleFIFO

# ---


def probe(what, call):
    try:
        note("single", what, call())
    except Exception:
        note("single", what, "raised")  # zoo-framework raises a bare Exception: all a caller can catch


q = SingleFIFO()
probe("push a", lambda: q.push_value("a"))
probe("push b", lambda: q.push_value("b"))
probe("push a again", lambda: q.push_value("a"))
probe("size", lambda: q.size())
probe("pop", lambda: q.pop_value())
probe("pop", lambda: q.pop_value())
probe("pop when empty", lambda: q.pop_value())
report()
