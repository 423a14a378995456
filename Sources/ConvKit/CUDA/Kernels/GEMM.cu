// GEMM kernels.
#include "Common.cuh"
