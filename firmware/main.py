# Written by `zoo-micro build`: runs the app and turns a crash into one line at the REPL.
# A crash stops here instead of resetting, so the board never loops and mpremote can always reach it.
import sys

ENTRY = "app_main"
CALL_MAIN = False

last_error = None


def _where(exc):
    # The innermost 'File "...", line N' of the traceback, so the one line says where it broke.
    import io

    buf = io.StringIO()
    sys.print_exception(exc, buf)
    where = "no traceback"
    for line in buf.getvalue().split("\n"):
        line = line.strip()
        if line.startswith("File "):
            where = line.split(", in ")[0]
    return where


def _run():
    app = __import__(ENTRY)
    if CALL_MAIN:
        result = app.main()
        if hasattr(result, "send"):
            import asyncio

            asyncio.run(result)


try:
    _run()
except Exception as e:
    # KeyboardInterrupt and SystemExit are not Exceptions: Ctrl-C still reaches the REPL.
    last_error = e
    print("zoo: app stopped: %s: %s (%s)" % (type(e).__name__, e, _where(e)))
