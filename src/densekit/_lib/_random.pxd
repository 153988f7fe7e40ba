# The sampler kinds, declared from their only table (enum dk_sampler_kind in src/sampling.h).
# `cpdef` exposes them to Python as densekit._lib._random.UNIFORM, NORMAL, TRUNCATED_NORMAL.

cdef extern from "sampling.h":
    cpdef enum:
        UNIFORM "DK_UNIFORM"
        NORMAL "DK_NORMAL"
        TRUNCATED_NORMAL "DK_TRUNCATED_NORMAL"
