# The norm kinds of `factors`, written once; `cpdef` exposes them to Python as
# densekit._lib._constraints.MAX_NORM, MIN_MAX_NORM, UNIT_NORM.

cpdef enum:
    MAX_NORM = 0
    MIN_MAX_NORM = 1
    UNIT_NORM = 2
