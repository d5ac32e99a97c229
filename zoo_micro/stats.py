# Master.stats(): counters read on demand, so a node that never asks does not hold this code.


def stats(m):
    """Master.stats(): the bus's counters; per worker status, runs, errors, restarts, fails, last_error."""
    b = m.bus
    return {
        "published": b.taken + b.pending + b.dropped,  # dropped ones included
        "delivered": b.delivered,
        "dropped": b.dropped_total(),
        "no_subscriber": b.no_subscriber,
        "retries": b.retries,
        "dead_lettered": b.dead_lettered,
        "handler_errors": b.handler_errors,
        "queued": b.pending,
        "workers": {
            w.name: {
                "status": w._zoo[0],
                "runs": w._zoo[1],
                "errors": w._zoo[2],
                "restarts": w._zoo[3],
                "fails": w._zoo[4],
                "last_error": getattr(w, "_zoo_error", None) and repr(w._zoo_error),  # of the last failed run
            }
            for w in m.workers
        },
    }
