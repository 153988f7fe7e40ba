"""Compiled kernels. Private: the public API lives in the family modules."""
