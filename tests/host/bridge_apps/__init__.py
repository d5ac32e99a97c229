"""Apps and helpers for the bridge tests: a MicroPython node app, a zoo-framework host app, and the
code that starts them on ptys behind a relay."""
