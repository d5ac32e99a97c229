# What a Master reports when asked: stats(), get_worker_stats(), get_health_report(). Reached
# through Master.__getattr__, loaded for the call and forgotten: a running node does not hold it.


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


def get_worker_stats(m, name):
    """Master.get_worker_stats(name), the full framework's shape; None for an unknown worker."""
    w = m.get_worker(name)
    if w is None:
        return None
    from zoo_micro.svm import SVM

    h = (m.svm or SVM(m, 0)).worker_health(w)
    for k in ("state", "max_execute_time", "restarts"):  # this board's extras stay in the report
        del h[k]
    return {"name": name, "type": type(w).__name__, "metadata": getattr(w, "_zoo_meta", {}), "health": h}


def get_health_report(m):
    """Master.get_health_report(): {"node": {...}, "workers": {name: {...}}, "plugins": {...}};
    see docs/health.md."""
    if m.svm is None:
        from zoo_micro.svm import SVM

        m.svm = SVM(m, m.config["svm_check_interval"])
    return m.svm.report()
