# The MQTT link: topic layout (layout.py), bounded outbox (outbox.py), connection keeper (link.py),
# umqtt underneath (client.py) and the node plugin (plugin.py). Nothing is imported here.
