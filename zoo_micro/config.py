# The Master's configuration keys and their defaults, and reading a config (checked by validate.py).
# A Master loads this module while it reads its config, then forgets it (port.once).
from zoo_micro import port

DEFAULTS = {
    "name": "node",  # node name, shown in logs and health
    "queue_size": 32,  # events waiting per channel before the lowest priority is dropped
    "backoff_max": 30,  # seconds: cap of a failing worker's restart backoff
    "retry_delay": 0.1,  # seconds before a failed handler's first retry; doubles each time
    "retry_backoff_max": 10,  # seconds: cap of the handler retry backoff
    "max_pending_retries": 16,  # handler retries waiting at once; more go to the dead letters
    "max_threads": port.THREAD_LIMIT,  # _thread workers this board can host
    "thread_join_timeout": 2,  # seconds to wait for thread workers at shutdown
    "threads": "auto",  # accept publishes from threads/interrupts: "auto" (if thread workers), True, False
    "svm_check_interval": 5,  # seconds between health checks and zoo.svm.health reports (0: off)
    "state_path": "state.json",  # where the state store persists, if the app uses it (None: nowhere)
    "state_save_interval": 5,  # seconds: at most one state save per interval
}


def load_config(config):
    """The config as the Master uses it: DEFAULTS, then the board's data file, then `config` (a
    dict or a JSON file's path), checked by validate.py; ValueError, in one line, if it is wrong."""
    import json

    merged = dict(DEFAULTS)
    # The board's data file, written by zoo-micro build and the virtual board: its thread limit.
    for path in ("/board.json", "board.json"):
        try:
            with open(path) as f:
                merged["max_threads"] = json.load(f)["max_threads"]
            break
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if config is None or config == {}:
        return merged  # the defaults need no check: a plain Master() never loads validate.py
    return port.once("zoo_micro.validate", "load", config, merged)
