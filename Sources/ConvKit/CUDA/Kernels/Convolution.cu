// Convolution kernels.
#include "Common.cuh"
