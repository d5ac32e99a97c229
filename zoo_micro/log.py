# One-line log messages; a link plugin may add a sink to carry them to the host.
sinks = []
quiet = False


def log(level, msg):
    if not quiet:
        try:
            print("zoo %s: %s" % (level, msg))
        except MemoryError:
            pass  # logging is called from error paths: on a full heap it must not raise there too
    for sink in sinks:
        try:
            sink(level, msg)
        except Exception:
            pass  # a broken sink must not break the caller


def info(msg):
    log("info", msg)


def warn(msg):
    log("warn", msg)


def error(msg):
    log("error", msg)
