// Batch normalisation kernels. Tensors are [N, C, inner]; element (n, c, i) is at (n·C + c)·inner + i
// and each channel is reduced over its M = N·inner elements. The semantic reference is
// CPU/CPUNormalizationKernels.swift: the statistics are two-pass (mean, then squared deviations
// from the float mean), each term is formed in float and accumulated in Float64, and the per-channel
// coefficients are formed in float with the CPU's expressions.
//
// The reductions use one block per channel (blockIdx.x = c): every thread accumulates a strided
// subset of the channel's elements, then a block reduction adds the partial sums in a fixed order,
// so results are deterministic.
#include "Common.cuh"

#define BN_NAN (__int_as_float(0x7fffffff))

// The address of the m-th element (m in [0, N·inner)) of channel c.
static __device__ __forceinline__ i64 bn_index(i64 m, i64 c, i64 channels, i64 inner) {
    const i64 n = m / inner, i = m - n * inner;
    return (n * channels + c) * inner + i;
}

// Training forward: mean = Σx / M, variance = Σ(x − mean)² / M (biased; NaN when M == 0), then
// y = x·scale + shift with scale = 1/√(variance + eps)·w, shift = b − mean·scale.
extern "C" __global__ void ck_bn_training_forward(const float* x, float* mean, float* variance, const float* w,
                                                  const float* b, float* y, i64 planes, i64 channels, i64 inner,
                                                  float eps) {
    __shared__ double scratch[32];
    const i64 c = blockIdx.x, count = planes * inner;
    double sum = 0.0;
    for (i64 m = threadIdx.x; m < count; m += blockDim.x) sum += (double)x[bn_index(m, c, channels, inner)];
    sum = ck_block_sum_double(sum, scratch);
    const float mu = count > 0 ? (float)(sum / (double)count) : BN_NAN;
    double squares = 0.0;
    for (i64 m = threadIdx.x; m < count; m += blockDim.x) {
        const float d = x[bn_index(m, c, channels, inner)] - mu;
        squares += (double)(d * d);
    }
    squares = ck_block_sum_double(squares, scratch);
    const float var = count > 0 ? (float)(squares / (double)count) : BN_NAN;
    if (threadIdx.x == 0) {
        mean[c] = mu;
        variance[c] = var;
    }
    const float scale = 1.0f / sqrtf(var + eps) * (w ? w[c] : 1.0f);
    const float shift = (b ? b[c] : 0.0f) - mu * scale;
    for (i64 m = threadIdx.x; m < count; m += blockDim.x) {
        const i64 e = bn_index(m, c, channels, inner);
        y[e] = x[e] * scale + shift;
    }
}

// Evaluation forward with given statistics, elementwise.
extern "C" __global__ void ck_bn_forward(const float* x, const float* mean, const float* variance, const float* w,
                                         const float* b, float* y, i64 channels, i64 inner, i64 count, float eps) {
    CK_LOOP(e, count) {
        const i64 c = (e / inner) % channels;
        const float scale = 1.0f / sqrtf(variance[c] + eps) * (w ? w[c] : 1.0f);
        const float shift = (b ? b[c] : 0.0f) - mean[c] * scale;
        y[e] = x[e] * scale + shift;
    }
}

// runningMean = (1 − momentum)·runningMean + momentum·batchMean;
// runningVar = (1 − momentum)·runningVar + momentum·float(batchVariance·correction), correction =
// count/(count − 1) in Float64 (the unbiased variance), as the CPU.
extern "C" __global__ void ck_bn_update_running(float* runningMean, float* runningVar, const float* batchMean,
                                                const float* batchVariance, i64 channels, float momentum,
                                                double correction) {
    CK_LOOP(c, channels) {
        runningMean[c] = (1.0f - momentum) * runningMean[c] + momentum * batchMean[c];
        runningVar[c] = (1.0f - momentum) * runningVar[c] + momentum * (float)((double)batchVariance[c] * correction);
    }
}

// Backward, one block per channel: Σg and Σg·(x − mean) (float terms, Float64 sums) when any
// output needs them; gradBias = Σg, gradWeight = float(Σg·(x − mean))·s; then
// gradInput = g·ws + (x − center)·xScale + shift, with (center, xScale, shift) =
// (mean, −ws·Σg(x − mean)/M·s², −ws·Σg/M) when batchStatistics, else (0, 0, 0) (the CPU's form,
// so an infinite x gives NaN in both).
extern "C" __global__ void ck_bn_backward(const float* g, const float* x, const float* mean, const float* variance,
                                          const float* w, float* dx, float* dw, float* db, i64 planes, i64 channels,
                                          i64 inner, float eps, i64 batchStatistics) {
    __shared__ double scratch[32];
    const i64 c = blockIdx.x, count = planes * inner;
    const float mu = mean[c];
    const float invStd = 1.0f / sqrtf(variance[c] + eps);
    double sumG = 0.0, sumGX = 0.0;
    if (db || dw || (dx && batchStatistics)) {
        for (i64 m = threadIdx.x; m < count; m += blockDim.x) {
            const i64 e = bn_index(m, c, channels, inner);
            const float gv = g[e];
            sumG += (double)gv;
            sumGX += (double)(gv * (x[e] - mu));
        }
        sumG = ck_block_sum_double(sumG, scratch);
        sumGX = ck_block_sum_double(sumGX, scratch);
    }
    if (threadIdx.x == 0) {
        if (db) db[c] = (float)sumG;
        if (dw) dw[c] = (float)sumGX * invStd;
    }
    if (!dx) return;
    const float scale = (w ? w[c] : 1.0f) * invStd;
    float center = 0.0f, xScale = 0.0f, shift = 0.0f;
    if (batchStatistics && count > 0) {
        const float n = (float)count;
        const float meanG = (float)sumG / n;
        const float projection = (float)sumGX / n * invStd * invStd;
        center = mu;
        xScale = -scale * projection;
        shift = -scale * meanG;
    }
    for (i64 m = threadIdx.x; m < count; m += blockDim.x) {
        const i64 e = bn_index(m, c, channels, inner);
        dx[e] = g[e] * scale + (x[e] - center) * xScale + shift;
    }
}

// counter[0] += 1 (int32, wrapping).
extern "C" __global__ void ck_bn_increment(int* counter) {
    if (blockIdx.x == 0 && threadIdx.x == 0) counter[0] = (int)((unsigned int)counter[0] + 1u);
}
