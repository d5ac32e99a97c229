# Topic patterns: "sensor.*" matches one segment ("sensor.t"), "sensor.#" any depth, including
# "sensor" itself.


def matches(pattern, topic):
    if pattern == topic:
        return True
    if "*" not in pattern and "#" not in pattern:
        return False
    p = pattern.split(".")
    t = topic.split(".")
    for i in range(len(p)):
        seg = p[i]
        if seg == "#":
            return True
        if i >= len(t) or seg != "*" and seg != t[i]:
            return False
    return len(p) == len(t)
