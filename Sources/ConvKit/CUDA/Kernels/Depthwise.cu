// Depthwise kernels.
#include "Common.cuh"
