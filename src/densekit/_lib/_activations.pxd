# The activation codes, declared from their only table (enum dk_act_code in
# src/dk_activations.h, which documents p0..p2 per code). `cpdef` exposes them to Python as
# densekit._lib._activations.ACT_*; kernels cimport them from here.

cdef extern from "dk_activations.h":
    cpdef enum:
        ACT_LINEAR "DK_ACT_LINEAR"
        ACT_RELU "DK_ACT_RELU"
        ACT_RELU6 "DK_ACT_RELU6"
        ACT_LEAKY_RELU "DK_ACT_LEAKY_RELU"
        ACT_ELU "DK_ACT_ELU"
        ACT_SELU "DK_ACT_SELU"
        ACT_CELU "DK_ACT_CELU"
        ACT_GELU "DK_ACT_GELU"
        ACT_GELU_TANH "DK_ACT_GELU_TANH"
        ACT_SILU "DK_ACT_SILU"
        ACT_SIGMOID "DK_ACT_SIGMOID"
        ACT_TANH "DK_ACT_TANH"
        ACT_SOFTPLUS "DK_ACT_SOFTPLUS"
        ACT_SOFTSIGN "DK_ACT_SOFTSIGN"
        ACT_HARD_SIGMOID "DK_ACT_HARD_SIGMOID"
        ACT_HARD_SILU "DK_ACT_HARD_SILU"
        ACT_EXPONENTIAL "DK_ACT_EXPONENTIAL"
        ACT_MISH "DK_ACT_MISH"
        ACT_LOG_SIGMOID "DK_ACT_LOG_SIGMOID"
        ACT_HARD_TANH "DK_ACT_HARD_TANH"
        ACT_TANH_SHRINK "DK_ACT_TANH_SHRINK"
        ACT_HARD_SHRINK "DK_ACT_HARD_SHRINK"
        ACT_SOFT_SHRINK "DK_ACT_SOFT_SHRINK"
        ACT_SPARSE_PLUS "DK_ACT_SPARSE_PLUS"
        ACT_SPARSE_SIGMOID "DK_ACT_SPARSE_SIGMOID"
        ACT_SQUAREPLUS "DK_ACT_SQUAREPLUS"
        ACT_THRESHOLD "DK_ACT_THRESHOLD"
        ACT_SOFTMAX "DK_ACT_SOFTMAX"
        ACT_LOG_SOFTMAX "DK_ACT_LOG_SOFTMAX"

    # Not codes, so not exposed: one past the largest code (Python: N_CODES).
    enum:
        ACT_N_CODES "DK_ACT_N_CODES"
