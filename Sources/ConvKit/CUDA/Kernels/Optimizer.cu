// Optimizer kernels.
#include "Common.cuh"
