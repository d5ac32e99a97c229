# The state store's fallback, loaded only when its file is missing or damaged (port.once): take
# the copy an interrupted save left (.tmp), else the previous good one (.bak), else empty state;
# say so in one line.
import os

from zoo_micro import flashfile, log


def fall_back(store):
    """Called when store.path did not load; returns the file it loaded from, or None."""
    path = store.path
    if not path:
        return None  # configured to persist nowhere
    primary = flashfile.exists(path)
    if primary:
        why = _load(store, path)
        if why is None:
            return path  # it loaded this time (a heap that was too fragmented before)
        notes = [path + " " + why]
    else:
        notes = [path + " is missing"]
    loaded = None
    for candidate in (path + ".tmp", path + ".bak"):
        if flashfile.exists(candidate):
            why = _load(store, candidate)
            if why is None:
                loaded = candidate
                break
            if candidate[-4:] == ".bak":  # a .tmp a power cut left half-written is no damage
                notes.append(candidate + " " + why)
    if primary or loaded or len(notes) > 1:  # not on a first boot, with no file at all
        if loaded:
            notes.append("loaded " + loaded)
        else:
            notes.append("starting with empty state")
        if primary and _move(path, path + ".bad"):
            # Out of the way, so the next save does not rotate it over the good .bak; kept to inspect.
            notes.append("%s is kept as %s.bad" % (path, path))
        log.warn("state: " + "; ".join(notes))
    if loaded == path + ".tmp":
        _move(loaded, path)  # the newest copy: the next save would reuse its name
    return loaded


def _load(store, name):
    """None when `name` loaded into the store, else why not."""
    try:
        store.load(name)
        return None
    except UnicodeError:
        return "is not UTF-8"
    except MemoryError:
        return "does not fit the heap"
    except OSError as e:
        code = e.args[0] if e.args else "?"
        return "cannot be read (%s)" % ("a directory" if code == 21 else "errno %s" % code)
    except (TypeError, KeyError, IndexError):
        return "has the wrong shape"
    except Exception as e:
        msg = str(e)  # flashfile says why it refused a file; anything else is the JSON parser's
        return msg if msg.startswith("is ") or msg.startswith("fails ") else "is not JSON"


def _move(src, dst):
    try:
        try:
            os.remove(dst)
        except OSError:
            try:
                os.rmdir(dst)
            except OSError:
                pass
        os.rename(src, dst)
        return True
    except OSError:
        return False
