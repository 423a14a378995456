// SparseMatrix kernels.
#include "Common.cuh"
