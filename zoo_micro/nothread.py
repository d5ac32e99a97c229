# Stand-ins for _thread on a port built without it, where nothing can race.


def ident():
    return 0


def start_thread(fn, args):
    raise RuntimeError("this port has no _thread")


class _NoLock:
    def acquire(self, *args):
        return True

    def release(self):
        pass

    def locked(self):
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def allocate_lock():
    return _NoLock()
