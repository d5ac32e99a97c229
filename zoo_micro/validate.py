# Reading and checking a node's config: one-line errors that name the key, the value and what is
# allowed, and the closest known key for a typo. config.load_config loads this module only while
# a config is read (port.once), so checking costs no heap once the node runs.
#
# Which unknown keys are refused: in a plugin's section ("mqtt", "watchdog", a schedule entry)
# every key is the plugin's, so any unknown one is an error. At the top level an app keeps its
# own keys too ("board" from zoo-micro new, its settings): an unknown key is refused only when it
# is a likely typo of a known one (edit distance 1 for names of up to 5 letters, else 2, case and
# "-"/"_" ignored), and any other is accepted and left to the app. "app" is always free for an
# app's own settings.
import json
import sys

from zoo_micro import port


def table(text):
    """{key: rule} from "key rule; key rule". The tables below are single long strings, not dict
    literals: a literal's short words would be interned, and stay on the heap for good, on every
    node whose config is checked, even after this module is forgotten."""
    t = {}
    for item in text.split(";"):
        key, _, rule = item.strip().partition(" ")
        t[key] = rule
    return t


# Rules: see check(). The Master's keys (config.DEFAULTS) and the built-in plugins' switches.
MASTER = table(
    "name str; queue_size int >=1; backoff_max num >=0; retry_delay num >=0; retry_backoff_max num >=0;"
    "max_pending_retries int >=0; max_threads int >=0; thread_join_timeout num >=0; threads bool|'auto';"
    "svm_check_interval num >=0; state_path str|none; state_save_interval num >=0; bridge bool|dict|none;"
    "mqtt bool|dict|none; watchdog bool|dict|none; schedule list|none; app any"
)

# The MQTT plugin's options; a key the plugin knows but this table does not is accepted as is.
MQTT = table(
    "node str|none; up str|list; down str|list; outbox int >=1; log bool; state bool|'auto'; health bool;"
    "host str|none; port int >=0 <=65535; user str|none; password str|none; tls bool|dict; root str;"
    "client_id str|none; clean bool; retained_max int >=1; keepalive num >=0 <=65535; timeout num >0;"
    "backoff_min num >0; backoff_max num >0; runner 'auto'|'thread'|'loop'; poll_ms int >=1;"
    "linger num >=0; wifi dict|none; payload_max int >=64; channels list"
)

# The serial bridge's options (COMMON and BRIDGE in link/once.py). Checked here, as the
# Master reads its config, not as the plugin starts: this module then is not loaded at the node's
# fullest moment.
BRIDGE = table(
    "node str|none; up str|list; down str|list; outbox int >=1; log bool; state bool|'auto'; health bool;"
    "stream any; board str|none; frame_max int >=128; send_max int >=64; heartbeat num >0; timeout num >0;"
    "journal str|none; journal_max int >=256"
)

WATCHDOG = table("timeout_ms int >=1; feed_while list")
STATUSES = ("running", "warning", "unhealthy", "stuck", "failed")  # interned by svm.py anyway

SCHEDULE = table("topic str; content any; every num >0; at str")

# How a rule's kinds read in an error.
NAMES = table(
    "int an integer; num a number; str a string; bool true or false; list a list; dict an object;"
    "none null; any anything"
)


def load(config, merged):
    """The Master's config from a dict or a JSON file's path, merged over `merged` (the defaults
    and the board's data file); checked, or ValueError. Called through port.once."""
    if isinstance(config, str):
        try:
            with open(config) as f:
                config = json.load(f)
        except OSError:
            raise ValueError("config file %s not found" % config) from None
        except ValueError as e:
            raise ValueError("config file %s is not valid JSON: %s" % (config, e)) from None
    if not isinstance(config, dict):
        raise ValueError("config must be a dict or a path to a JSON file, got %s" % show(config))
    merged.update(config)
    check(merged, MASTER, "config", True)
    sections(merged)
    return merged


def sections(c):
    """The built-in plugins' sections of a Master config."""
    o = c.get("mqtt")
    if isinstance(o, dict) and o:  # the plugin module, which the Master loads for it anyway
        from zoo_micro.mqtt.plugin import MqttPlugin

        spec = {}
        for k in common():
            spec[k] = "any"
        for k in MqttPlugin.OPTIONS:
            spec[k] = "any"
        for k in MQTT:
            if k in spec:
                spec[k] = MQTT[k]
        check(o, spec, "mqtt")
    o = c.get("bridge")
    if isinstance(o, dict):
        check(o, BRIDGE, "bridge")
    o = c.get("watchdog")
    if isinstance(o, dict):
        check(o, WATCHDOG, "watchdog")
        for s in o.get("feed_while", ()):
            if s not in STATUSES:
                raise ValueError(
                    "watchdog: feed_while holds %s; allowed: %s" % (show(s), ", ".join(STATUSES))
                )
    jobs = c.get("schedule") or ()
    for i in range(len(jobs)):
        where = "schedule[%d]" % i
        job = jobs[i]
        check(job, SCHEDULE, where)
        if not job.get("topic"):
            raise ValueError("%s: needs a non-empty 'topic'" % where)
        if ("every" in job) == ("at" in job):
            raise ValueError("%s: needs exactly one of 'every' (seconds) or 'at' (\"HH:MM\")" % where)
        at = job.get("at")
        if at is not None:
            hm = at.split(":")
            if not (
                len(hm) == 2
                and len(hm[1]) == 2
                and hm[0].isdigit()
                and hm[1].isdigit()
                and int(hm[0]) < 24
                and int(hm[1]) < 60
            ):
                raise ValueError(
                    '%s: at=%s; allowed: a time of day "HH:MM", 00:00 to 23:59' % (where, show(at))
                )


def common():
    """The options every uplink has (a table kept in uplink.py, or in the module that sets up links)."""
    for name in ("zoo_micro.link.uplink", "zoo_micro.link.once"):
        had = name in sys.modules
        try:
            found = getattr(__import__(name, None, None, ["COMMON"]), "COMMON", None)
        except ImportError:
            found = None
        if not had and name.endswith("once"):
            drop(name)
        if found is not None:
            return found
    return {}


def check(config, spec, where, loose=False):
    """Raise ValueError (one line, starting with `where`) unless `config` fits `spec`.

    `spec` maps each known key to a rule: alternatives joined by "|", each one of
      int, num      an integer, or any number (bool is neither), optionally with bounds after a
                    space: "int >=1", "num >0", "int >=0 <=65535"
      str, bool, list, dict, none (JSON null), any
      'word'        exactly that string
    e.g. "bool|'auto'", "num >=0|none", "'thread'|'loop'". Only keys present are checked; a
    missing key keeps its default. An unknown key is refused, naming the closest known one;
    with `loose`, only when it is within typo distance of a known key (others are the app's).
    """
    if not isinstance(config, dict):
        raise ValueError("%s must be a dict of options, got %s" % (where, show(config)))
    for key in config:
        rule = spec.get(key)
        if rule is None:
            near, d = closest(key, spec)
            if loose and d > (1 if len(near) <= 5 else 2):
                continue
            if d <= max(3, len(key) // 3):
                raise ValueError("%s: unknown key %s; did you mean %s?" % (where, show(key), show(near)))
            raise ValueError("%s: unknown key %s; known: %s" % (where, show(key), ", ".join(sorted(spec))))
        value = config[key]
        if not fits(value, rule):
            raise ValueError("%s: %s=%s; allowed: %s" % (where, key, show(value), describe(rule)))


def fits(value, rule):
    for alt in rule.split("|"):
        words = alt.split()
        kind = words[0]
        if kind == "any":
            return True
        if kind[0] == "'":
            if value == kind[1:-1]:
                return True
            continue
        if kind == "none":
            ok = value is None
        elif kind == "bool":
            ok = value is True or value is False
        elif kind == "str":
            ok = isinstance(value, str)
        elif kind == "list":
            ok = isinstance(value, list)
        elif kind == "dict":
            ok = isinstance(value, dict)
        else:
            ok = (
                value is not True
                and value is not False
                and (isinstance(value, int) or kind == "num" and isinstance(value, float))
            )
            if ok and value != value:
                ok = False  # NaN
            for w in words[1:] if ok else ():
                bound = float(w.lstrip("<>="))
                if w[0] == ">":
                    ok = ok and (value > bound if w[1] != "=" else value >= bound)
                else:
                    ok = ok and (value < bound if w[1] != "=" else value <= bound)
        if ok:
            return True
    return False


def describe(rule):
    """'int >=1|none' -> 'an integer >= 1, or null'."""
    out = []
    for alt in rule.split("|"):
        words = alt.split()
        text = NAMES.get(words[0], words[0].replace("'", '"'))
        if len(words) == 3 and words[1][:2] == ">=" and words[2][:2] == "<=":
            text += " from %s to %s" % (words[1][2:], words[2][2:])
        else:
            for w in words[1:]:
                text += " " + w.rstrip("0123456789.-") + " " + w.lstrip("<>=")
        out.append(text)
    return ", or ".join(out)


def show(value):
    """A value as the config file spells it: null, true, "32"."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def closest(key, spec):
    """The known key nearest to `key`, and its edit distance (case and -/_ ignored)."""
    k = str(key).lower().replace("-", "_")
    best, dist = "", 99
    for name in spec:
        d = distance(k, name)
        if d < dist:
            best, dist = name, d
    return best, dist


def distance(a, b):
    """Edits (insert, delete, replace, swap two neighbours) that turn a into b."""
    prev2 = None
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def drop(name=__name__):
    """Forget a module (this one by default), so its heap is freed once the check is over."""
    port.forget(name)
