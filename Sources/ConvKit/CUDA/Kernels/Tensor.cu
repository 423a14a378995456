// Tensor kernels: fill, accumulate, elementwise maps with broadcasting, reductions, strided copies.
#include "Common.cuh"

// destination[i] += source[i]: gradient accumulation.
extern "C" __global__ void ck_accumulate(const float* __restrict__ source, float* __restrict__ destination, i64 n) {
    CK_LOOP(i, n) destination[i] += source[i];
}
