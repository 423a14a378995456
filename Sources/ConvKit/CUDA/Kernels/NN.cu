// NN kernels.
#include "Common.cuh"
