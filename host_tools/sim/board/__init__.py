"""MicroPython code that runs on the virtual board (compiled to .mpy when a board starts); it is a
package only so that it ships with host_tools. CPython never imports these modules."""
