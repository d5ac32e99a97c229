# Events (food): the request handlers get. @event is in decorators.py; handlers with options
# (reactors, in the full framework's words) and retry strategies live in reactors.py.


class EventNode:
    """One event. Handlers receive it as their request: .topic .content .channel .priority."""

    # Defaults stay on the class: every instance attribute costs heap on each event.
    channel = "default"
    priority = 0
    response_mechanism = 3  # every handler; see set_response_mechanism

    def __init__(self, topic, content=None, channel_name="default", priority=0):
        self.topic = topic
        self.content = content
        if channel_name != "default":
            self.channel = channel_name
        if priority:
            self.priority = priority

    @property
    def channel_name(self):
        return self.channel

    @property
    def reactor_name(self):
        """The name of the handler (reactor) the request is delivered to; before delivery, the
        one set_response_mechanism(4, name) chose."""
        from zoo_micro.reactors import reactor_name

        return reactor_name(self)

    def set_response_mechanism(self, mechanism, reactor_name=None):
        """Which handlers get this event, numbered as in the full framework: 1 the first subscribed,
        2 all by handler priority (highest first), 3 all in subscription order (the default),
        4 only the one named reactor_name."""
        from zoo_micro.reactors import set_mechanism

        set_mechanism(self, mechanism, reactor_name)
