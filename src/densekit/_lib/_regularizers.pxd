# The bits of `sums(x, which, ...)`, written once; `cpdef` exposes them to Python as
# densekit._lib._regularizers.SUM_ABS and SUM_SQ (3 asks for both).

cpdef enum:
    SUM_ABS = 1
    SUM_SQ = 2
