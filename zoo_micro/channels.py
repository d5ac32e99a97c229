# The full framework's way to publish, for apps brought from it:
# EventChannelManager.get_channel(name).push_event(EventNode(topic, content, channel_name=name)).
# It queues on the Master made last (one per node), so the same app code runs on both.
from zoo_micro.master import Master


def _master():
    m = Master.current
    if m is None:
        raise RuntimeError("EventChannelManager needs a Master: create one first")
    return m


class EventChannel:
    def __init__(self, name):
        self.channel_name = name

    def get_channel_name(self):
        return self.channel_name

    def push_event(self, event):
        """Queue a prepared EventNode on this channel; False if it was dropped."""
        event.channel = self.channel_name
        return _master().emit(event)

    def dispatch(self, topic, content):
        """Queue an event on this channel; False if it was dropped."""
        return _master().publish(topic, content, self.channel_name)

    def size(self):
        """Events waiting in this channel's queue."""
        return _master().bus.queue_size - _master().bus.room(self.channel_name)


class EventChannelManager:
    _named = []  # channels asked for by name; the full framework makes a channel when asked

    @classmethod
    def get_channel(cls, channel_name):
        if channel_name not in cls._named:
            cls._named.append(channel_name)
        return EventChannel(channel_name)

    @classmethod
    def get_all_channel_name(cls):
        """Channels with a handler, with events, or asked for."""
        names = []
        bus = _master().bus
        for ch in list(bus._index) + bus._order + cls._named:
            if ch not in names:
                names.append(ch)
        return names

    @classmethod
    def get_all_channel_count(cls):
        return len(cls.get_all_channel_name())

    def refresh_channel(self, channel_name, topic, reactor):
        """Subscribe an EventReactor to topic on that channel, for every Master made afterwards
        (and the one made last), as @event does."""
        from zoo_micro import decorators

        decorators.handlers.append((topic, channel_name, reactor, {}))
        if Master.current is not None:
            Master.current.subscribe(topic, reactor, channel_name)
