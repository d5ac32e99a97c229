# The full framework's worker results: after every run, success or failure, a WorkerResult on the
# "waiter" topic. Only a node with a handler on that topic pays for them (loaded then).
TOPIC = "waiter"


class WorkerResult:
    def __init__(self, topic, content, cls_name, worker_name=None, error=None, registry_name=None):
        self.topic = topic
        self.content = content
        self.cls_name = cls_name
        self.worker_name = worker_name
        self.error = error  # "Type: message" of a failed run, which has no content
        self.registry_name = registry_name

    @property
    def success(self):
        return self.error is None


def publish(master, worker, value, exc):
    name = worker.name
    error = None if exc is None else "%s: %s" % (type(exc).__name__, exc)
    master.publish(TOPIC, WorkerResult(TOPIC, value, type(worker).__name__, name, error, name))
