// Normalization kernels.
#include "Common.cuh"
