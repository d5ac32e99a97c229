# The serial link: frames (frame.py), the node's end of the reliable session (session.py, with
# its outbox in outbox.py), the work every uplink shares (uplink.py), the node plugin (plugin.py),
# what runs once per start (once.py, loaded and forgotten) and the optional journal (journal.py).
# Nothing is imported here, so a node that does not use the bridge pays nothing for it.
