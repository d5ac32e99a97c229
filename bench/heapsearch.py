# The smallest heap a run needs, by bisection: shared by bench/core.py and bench/node.py.


def smallest_heap(ok, lo_kb, hi_kb, step=4):
    """The smallest heap (KB, a multiple of step) at which ok(kb) holds, by bisection; None if not
    even at hi_kb. Assumes more heap never hurts."""
    if not ok(hi_kb):
        return None
    lo = lo_kb // step
    hi = hi_kb // step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid * step):
            hi = mid
        else:
            lo = mid
    return hi * step
