# Where a node's traffic lives on the broker, and what its payloads look like; the host reads
# the same module. Bus topics keep their dots and sit in one MQTT level.
#   <root>/<node>/status            "online" / "offline" (retained; "offline" is the last will)
#   <root>/<node>/info              {"board", "version", "stream", "runner"} (retained)
#   <root>/<node>/health            the SVM report plus "mqtt" counters (retained)
#   <root>/<node>/state/<scope>/<key>  {"value", "version"} (retained; empty payload: removed)
#   <root>/<node>/evt/<topic>       {"stream", "seq", "content"[, "channel", "priority"]} (QoS 1)
#   <root>/<node>/log               [level, message] (QoS 0)
#   <root>/<node>/cmd/<topic>[/<channel>]  JSON content for the node's bus, if `down` allows the
#                                   topic and `channels` the channel (none given: "default")
# A state scope or key is one level whatever it holds: escape() writes "%", "/", "+", "#" and NUL
# as %25, %2F, %2B, %23, %00 (a wildcard in a topic name makes the broker drop the connection);
# unescape() reads them back.
import json

ROOT = "zoo"
STATUS = "status"
INFO = "info"
HEALTH = "health"
STATE = "state"
EVT = "evt"
LOG = "log"
CMD = "cmd"
ONLINE = b"online"
OFFLINE = b"offline"


def check_name(what, name):
    """A node name or root is one MQTT level: no '/', '+', '#', and not empty."""
    if type(name) is not str or not name or "/" in name or "+" in name or "#" in name:
        raise ValueError("mqtt: %s %r must be a non-empty name without '/', '+' or '#'" % (what, name))
    return name


def base(root, node):
    return check_name("root", root) + "/" + check_name("node", node)


def event_topic(base_topic, topic):
    if "+" in topic or "#" in topic:
        raise ValueError("topic %r has an MQTT wildcard in it" % topic)
    return base_topic + "/" + EVT + "/" + topic


def state_topic(base_topic, scope, key):
    return base_topic + "/" + STATE + "/" + escape(scope) + "/" + escape(key)


def escape(name):
    for ch in "%/+#\x00":
        if ch in name:
            break
    else:
        return name
    out = ""
    for ch in name:
        out += "%%%02X" % ord(ch) if ch in "%/+#\x00" else ch
    return out


def split(topic):
    """'zoo/n1/evt/a.b' -> ('zoo', 'n1', 'evt', 'a.b'); rest is '' for status/info/health/log."""
    parts = topic.split("/", 3)
    if len(parts) < 3:
        return None
    return parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else ""


def encode_event(stream, seq, content, channel="default", priority=0):
    d = {"stream": stream, "seq": seq, "content": content}
    if channel != "default":
        d["channel"] = channel
    if priority:
        d["priority"] = priority
    return json.dumps(d).encode()
