// ImplicitGEMM kernels.
#include "Common.cuh"
