# Topic subscriptions: exact topics by dict, wildcards by segment match.
# "sensor.*" matches one segment ("sensor.t"), "sensor.#" any depth, including "sensor" itself.

_CACHE_MAX = 64


def is_pattern(topic):
    return "*" in topic or "#" in topic


def matches(pattern, topic):
    if pattern == topic:
        return True
    if not is_pattern(pattern):
        return False
    p = pattern.split(".")
    t = topic.split(".")
    for i in range(len(p)):
        seg = p[i]
        if seg == "#":
            return True
        if i >= len(t):
            return False
        if seg != "*" and seg != t[i]:
            return False
    return len(p) == len(t)


class TopicIndex:
    """Maps a topic to its subscribers; the resolved list is cached per topic."""

    def __init__(self):
        self._exact = {}
        self._patterns = []  # (pattern, item), in subscription order
        self._order = {}  # item -> subscription number, to merge exact and wildcard hits in order
        self._n = 0
        self._cache = {}

    def add(self, topic, item):
        if is_pattern(topic):
            self._patterns.append((topic, item))
        else:
            self._exact.setdefault(topic, []).append(item)
        self._order[id(item)] = self._n
        self._n += 1
        self._cache = {}

    def remove(self, topic, item):
        if is_pattern(topic):
            self._patterns = [pi for pi in self._patterns if not (pi[0] == topic and pi[1] is item)]
        else:
            items = self._exact.get(topic)
            if items and item in items:
                items.remove(item)
                if not items:
                    del self._exact[topic]
        self._cache = {}

    def lookup(self, topic):
        hit = self._cache.get(topic)
        if hit is not None:
            return hit
        found = list(self._exact.get(topic, ()))
        if self._patterns:
            for pattern, item in self._patterns:
                if matches(pattern, topic):
                    found.append(item)
            order = self._order
            found.sort(key=lambda it: order.get(id(it), 0))
        if len(self._cache) >= _CACHE_MAX:
            self._cache = {}
        self._cache[topic] = found
        return found

    def __len__(self):
        return sum(len(v) for v in self._exact.values()) + len(self._patterns)
