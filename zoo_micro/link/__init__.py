# The serial link: frames (frame.py), the reliable session (session.py, over inbound.py and
# outbound.py) and the node plugin (plugin.py).
# Nothing is imported here, so a node that does not use the bridge pays nothing for it.
