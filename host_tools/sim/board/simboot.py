# The virtual board's power-on, like a port's main.c: wire up the peripherals, mount the flash at /,
# run boot.py and then main.py (not after a soft reset from the raw REPL), then return to the REPL.


def exists_dir(path):
    import os

    try:
        return os.stat(path)[0] & 0x4000
    except OSError:
        return False


def boot(g):
    import micropython

    micropython.kbd_intr(-1)  # as on a board, Ctrl-C does nothing until boot.py runs
    import gc
    import os
    import select  # noqa: F401
    import sys
    import time

    import flashfs

    # These load from the host folder, so before / becomes the flash.
    import machine  # noqa: F401
    import simlink

    gc.collect()
    simlink.hello()  # the link's own thread is started here, outside the board's thread count
    import simos
    import simsys
    import simthread
    import simvfs

    sys.modules["_thread"] = simthread
    sys.modules["vfs"] = simvfs
    sys.modules["sys"] = simsys
    sys.modules["os"] = simos
    rom = simvfs.image()  # the host gave the interpreter this much more heap
    os.umount("/")
    os.mount(flashfs.Flash(simlink.cfg["flash"], simlink.cfg["flash_kb"] * 1024), "/")
    os.chdir("/")
    sys.path[:] = ["", ".frozen", "/lib"]
    if rom is not None:
        # as a firmware with a ROMFS partition does at boot
        os.mount(simvfs.VfsRom(memoryview(rom)), "/rom")
        sys.path[1:1] = ["/rom", "/rom/lib"] if exists_dir("/rom/lib") else ["/rom"]
    del rom
    del sys.modules["flashfs"]
    del sys.modules["simboot"]
    gc.collect()
    # The interpreter got the board's heap plus room for this simulator; hold back what the board
    # lacks, in small pieces that first fill the holes the simulator's own loading left.
    ballast = simlink.ballast
    while True:
        extra = gc.mem_free() - simlink.cfg["heap_free"]
        if extra <= 0:
            break
        ballast.append(bytearray(min(extra, 1024)))

    def exists(name):
        try:
            return os.stat(name)[0] & 0x8000
        except OSError:
            return False

    here = g["__file__"].rsplit("/", 1)[0] + "/"

    def report(e):
        # The traceback as a board prints it: without the simulator's own frames.
        import io

        buf = io.StringIO()
        sys.print_exception(e, buf)
        for line in buf.getvalue().split("\n"):
            if line and here not in line:
                print(line)

    def where(e):
        # "File "main.py", line 3" from the traceback, for the one-line report on the host
        import io

        buf = io.StringIO()
        sys.print_exception(e, buf)
        lines = [
            ln.strip()
            for ln in buf.getvalue().split("\n")
            if ln.strip().startswith("File ") and here not in ln
        ]
        return lines[-1] if lines else ""

    def run(name):
        g["__file__"] = name
        try:
            micropython.kbd_intr(3)
            # Ctrl-C armed first: the host holds back a Ctrl-C typed during boot until it hears this.
            simlink.notify({"op": "running", "script": name})
            execfile(name, g)  # noqa: F821 (a MicroPython builtin)
            micropython.kbd_intr(-1)
            return True
        except SystemExit:
            # sys.exit() or machine.soft_reset() in a script: a board soft-resets
            micropython.kbd_intr(-1)
            simlink.notify({"op": "soft_reset"})
            while True:
                time.sleep_ms(1000)
        except BaseException as e:  # noqa: B036 (a board reports every error, KeyboardInterrupt too)
            micropython.kbd_intr(-1)
            gc.collect()
            try:
                report(e)
            except MemoryError:
                sys.print_exception(e)
            try:
                msg = {"op": "script_error", "script": name, "error": "%s: %s" % (type(e).__name__, e)}
                msg["at"] = where(e)
            except MemoryError:
                msg = {"op": "script_error", "script": name, "error": "MemoryError", "at": ""}
            simlink.notify(msg)
            return False

    if exists("boot.py"):
        run("boot.py")
    if simlink.cfg["mode"] == "friendly" and exists("main.py"):
        simlink.notify({"op": "main_started"})
        if run("main.py"):
            simlink.notify({"op": "main_done"})
    g.pop("__file__", None)
    # Tells the host that the REPL's banner comes next; in-band, so it stays in order with the output.
    sys.stdout.write("\x1b_zoo-sim:repl\x1b\\")
    micropython.kbd_intr(3)
