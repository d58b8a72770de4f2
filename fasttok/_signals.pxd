# Ctrl-C in the core: long loops run without the GIL, where no signal handler can run. A loop keeps a
# budget of CHECK_EVERY units of work (bytes, characters or words visited) and spends it with
# interrupted_after(); when it runs out, interrupted() takes the GIL for a moment and runs the pending
# handlers; when one raised (KeyboardInterrupt), the loop stops and its `def` caller, holding the GIL
# again, calls raise_pending(). The cost is one
# subtraction and one compare per unit plus a GIL round trip per 2**16 units.
cdef extern from "Python.h":
    int PyErr_CheckSignals()  # declared without `except`: the exception stays set for raise_pending()

cdef enum:
    CHECK_EVERY = 1 << 16


cdef inline bint interrupted() noexcept nogil:
    """Run pending signal handlers with the GIL; True when one raised (its exception stays set)."""
    cdef int r
    with gil:
        r = PyErr_CheckSignals()
    return r != 0


cdef inline bint interrupted_after(Py_ssize_t* budget, Py_ssize_t work) noexcept nogil:
    """Spend `work` units of *budget; when it runs out, refill it and return interrupted()."""
    budget[0] -= work
    if budget[0] >= 0:
        return False
    budget[0] = CHECK_EVERY
    return interrupted()


cdef inline int raise_pending() except -1:
    """Raise the exception interrupted() left set (call with the GIL, after the nogil loop)."""
    return -1
