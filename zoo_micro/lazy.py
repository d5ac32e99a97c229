# Methods that live in another module: a class whose rarely used methods are functions in a side
# module (taking the object first) answers those names from its __getattr__ with
#     return port.once("zoo_micro.lazy", "method", "zoo_micro.side", name, self)
# Both modules are loaded for the lookup and forgotten, so those methods, and this, cost a running
# node no heap until called.
from zoo_micro.port import forget


def method(module, name, obj):
    """obj.name from `module`, bound to obj; AttributeError if it has none."""
    if name[0] == "_":
        raise AttributeError(name)  # special and private names are never looked up there
    try:
        fn = getattr(__import__(module, None, None, (name,)), name)
    except AttributeError:
        raise AttributeError(name) from None
    finally:
        forget(module)
    return lambda *a, **k: fn(obj, *a, **k)
