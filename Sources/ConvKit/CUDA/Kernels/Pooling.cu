// Pooling kernels.
#include "Common.cuh"
