# Master.get_worker_stats(): one worker as the full framework reports it, loaded when asked
# (apart from stats.py, so a node that asks for its counters loads no more than it needs).


def worker_stats(m, name):
    """Master.get_worker_stats(name), the full framework's shape; None for an unknown worker."""
    w = m.get_worker(name)
    if w is None:
        return None
    from zoo_micro.svm import SVM

    h = (m.svm or SVM(m, 0)).worker_health(w)
    for k in ("state", "max_execute_time", "restarts"):  # this board's extras stay in the report
        del h[k]
    return {"name": name, "type": type(w).__name__, "metadata": getattr(w, "_zoo_meta", {}), "health": h}
