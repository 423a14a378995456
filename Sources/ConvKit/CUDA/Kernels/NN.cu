// NN kernels: linear's bias rows and bias gradient, ReLU, dropout, local response normalisation,
// softmax / log-softmax and cross-entropy. The semantic reference is the CPU backend
// (CPU/CPUNNKernels.swift and CPU/NN/*.swift): same NaN rules, same formulas, same operation order
// where it is cheap to keep it.
//
// Softmax and cross-entropy work on vectors along `dim` of a tensor seen as [outer, dim, inner]
// (element (o, d, i) at (o * dim + d) * inner + i); one "row" per (o, i). A row is owned by a group
// of threads that reduces it cooperatively (sum, NaN-skipping max) in a fixed order:
//   NN_THREAD: one thread per row, looping over the dimension (used when inner > 1: neighbouring
//              threads own neighbouring (o, i), so every load is coalesced; sums run sequentially,
//              exactly as the CPU's strided path);
//   NN_WARP:   one warp per row (inner == 1 and dim <= 1024);
//   NN_BLOCK:  one block of 1024 threads per row (inner == 1 and dim > 1024).
// Rows are visited by a grid-stride loop over groups, so any grid size is correct.
#include "Common.cuh"

#define NN_THREAD 0
#define NN_WARP 1
#define NN_BLOCK 2

#define NN_NEG_INF (-__int_as_float(0x7f800000))
#define NN_NAN (__int_as_float(0x7fffffff))

// Max that skips NaN (as the CPU's `x > m ? x : m` starting from -inf): fmaxf returns the number
// when one operand is NaN, and the running value starts at -inf, so a NaN never enters it.
static __device__ __forceinline__ float nn_warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

static __device__ __forceinline__ float nn_warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// NaN-skipping max over the block (blockDim.x a multiple of 32); `scratch` holds 32 floats.
static __device__ __forceinline__ float nn_block_max(float v, float* scratch) {
    v = nn_warp_max(v);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : NN_NEG_INF;
    return nn_warp_max(v);
}

// The threads that own one row, and the grid-stride loop over rows.
template <int MODE> struct NNGroup {
    int lane;    // this thread's index within the group
    int width;   // threads in the group
    i64 first;   // the first row of this group
    i64 step;    // groups in the grid

    __device__ __forceinline__ NNGroup() {
        if (MODE == NN_THREAD) {
            lane = 0; width = 1;
            first = (i64)blockIdx.x * blockDim.x + threadIdx.x;
            step = (i64)gridDim.x * blockDim.x;
        } else if (MODE == NN_WARP) {
            lane = threadIdx.x & 31; width = 32;
            first = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
            step = (i64)gridDim.x * (blockDim.x >> 5);
        } else {
            lane = threadIdx.x; width = blockDim.x;
            first = blockIdx.x;
            step = gridDim.x;
        }
    }

    // Sum over the group, returned to every thread of it (a fixed order: deterministic).
    __device__ __forceinline__ float sum(float v, float* scratch) const {
        if (MODE == NN_THREAD) return v;
        if (MODE == NN_WARP) return nn_warp_sum(v);
        return ck_block_sum(v, scratch);
    }

    // NaN-skipping max over the group, returned to every thread of it.
    __device__ __forceinline__ float max(float v, float* scratch) const {
        if (MODE == NN_THREAD) return v;
        if (MODE == NN_WARP) return nn_warp_max(v);
        return nn_block_max(v, scratch);
    }
};

// Offset of element (o, 0, i) of row r = o * inner + i.
static __device__ __forceinline__ i64 nn_row_base(i64 r, i64 dim, i64 inner) {
    return inner == 1 ? r * dim : (r / inner) * dim * inner + r % inner;
}

// ---------------------------------------------------------------------------------------------
// Linear

// y[r, j] = bias[j]: the rows that the GEMM then accumulates into (beta = 1).
extern "C" __global__ void ck_nn_bias_rows(const float* bias, float* y, i64 batch, i64 features) {
    CK_LOOP(e, batch * features) y[e] = bias[e % features];
}

// db[j] = Σ_r dy[r, j]. Block (32, 8): threadIdx.x picks a column (coalesced loads along a row),
// threadIdx.y one of 8 interleaved row subsets; the 8 float partial sums are added in a fixed
// order, so the result is deterministic.
extern "C" __global__ void ck_nn_column_sums(const float* dy, float* db, i64 rows, i64 columns) {
    __shared__ float partial[8][33];
    const i64 j = (i64)blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (j < columns) {
        for (i64 r = threadIdx.y; r < rows; r += 8) s += dy[r * columns + j];
    }
    partial[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && j < columns) {
        float total = 0.0f;
        for (int k = 0; k < 8; ++k) total += partial[k][threadIdx.x];
        db[j] = total;
    }
}

// ---------------------------------------------------------------------------------------------
// ReLU and dropout

// y = x < 0 ? 0 : x (NaN stays NaN, -0 stays -0, as the CPU).
extern "C" __global__ void ck_nn_relu_forward(const float* x, float* y, i64 count) {
    CK_LOOP(i, count) {
        const float v = x[i];
        y[i] = v < 0.0f ? 0.0f : v;
    }
}

// dx = y <= 0 ? 0 : g (a NaN output passes its gradient, as PyTorch's threshold_backward).
extern "C" __global__ void ck_nn_relu_backward(const float* g, const float* y, float* dx, i64 count) {
    CK_LOOP(i, count) dx[i] = y[i] <= 0.0f ? 0.0f : g[i];
}

// dst[i] = src[i] · m(i): element i is kept (factor keptScale) when
// unitFloat(word i % 4 of philox(seed, i / 4)) >= p, dropped (factor 0) otherwise. One thread per
// Philox block of 4 elements.
extern "C" __global__ void ck_nn_dropout(const float* src, float* dst, i64 count, float p, float keptScale, i64 seed) {
    const i64 blocks = (count + 3) / 4;
    CK_LOOP(b, blocks) {
        const uint4 w = ck_philox((unsigned long long)seed, (unsigned long long)b);
        const unsigned int words[4] = {w.x, w.y, w.z, w.w};
        const i64 base = 4 * b;
        for (int j = 0; j < 4; ++j) {
            if (base + j < count) {
                dst[base + j] = src[base + j] * (ck_unit_float(words[j]) >= p ? keptScale : 0.0f);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Local response normalisation across channels (layout [outer, channels, inner]).

// factor · scale^(−beta); beta = 0.75 through square roots, as the CPU's negativePower.
static __device__ __forceinline__ float nn_negative_power(float scale, float beta, float factor) {
    if (beta == 0.75f) {
        const float root = sqrtf(scale);
        return factor / (root * sqrtf(root));
    }
    return factor * powf(scale, -beta);
}

// scale = k + alphaOverSize · Σ_{c' ∈ [c − size/2, c + (size−1)/2] ∩ [0, C)} x[c']², y = x · scale^(−beta).
extern "C" __global__ void ck_nn_lrn_forward(const float* x, float* y, float* scale, i64 outer, i64 channels,
                                             i64 inner, i64 size, float alphaOverSize, float beta, float k) {
    const i64 before = size / 2, after = (size - 1) / 2;
    CK_LOOP(e, outer * channels * inner) {
        const i64 c = (e / inner) % channels;
        const i64 base = e - c * inner;  // element (o, 0, i)
        const i64 lo = c - before > 0 ? c - before : 0;
        const i64 hi = c + after < channels - 1 ? c + after : channels - 1;
        float sum = 0.0f;
        for (i64 c2 = lo; c2 <= hi; ++c2) {
            const float v = x[base + c2 * inner];
            sum += v * v;
        }
        const float s = k + alphaOverSize * sum;
        scale[e] = s;
        y[e] = nn_negative_power(s, beta, x[e]);
    }
}

// dx[j] = gp[j] − factor·x[j]·Σ_{c ∈ [j − (size−1)/2, j + size/2] ∩ [0, C)} gp[c]·x[c]/scale[c],
// gp = g·scale^(−beta), factor = 2αβ/size. One thread per element (a gather; gp is recomputed).
extern "C" __global__ void ck_nn_lrn_backward(const float* g, const float* x, const float* scale, float* dx,
                                              i64 outer, i64 channels, i64 inner, i64 size, float beta, float factor) {
    const i64 below = (size - 1) / 2, above = size / 2;
    CK_LOOP(e, outer * channels * inner) {
        const i64 j = (e / inner) % channels;
        const i64 base = e - j * inner;
        const i64 lo = j - below > 0 ? j - below : 0;
        const i64 hi = j + above < channels - 1 ? j + above : channels - 1;
        float sum = 0.0f;
        for (i64 c = lo; c <= hi; ++c) {
            const i64 idx = base + c * inner;
            const float s = scale[idx];
            const float gp = nn_negative_power(s, beta, g[idx]);
            sum += gp * x[idx] / s;
        }
        const float gpj = nn_negative_power(scale[e], beta, g[e]);
        dx[e] = gpj - factor * x[e] * sum;
    }
}

// ---------------------------------------------------------------------------------------------
// Softmax and log-softmax

// Stable softmax / log-softmax of each row: m = NaN-skipping max (0 when it is -inf, so a row of
// -inf keeps exp(-inf) = 0); log: y = x − (m + log Σ exp(x − m)); else y = exp(x − m) · (1 / Σ).
template <int MODE>
static __device__ __forceinline__ void nn_softmax_forward(const float* x, float* y, i64 outer, i64 dim, i64 inner,
                                                          i64 logMode, float* scratch) {
    const NNGroup<MODE> group;
    const i64 rows = outer * inner;
    for (i64 r = group.first; r < rows; r += group.step) {
        const i64 base = nn_row_base(r, dim, inner);
        const float* xr = x + base;
        float* yr = y + base;
        float m = NN_NEG_INF;
        for (i64 d = group.lane; d < dim; d += group.width) m = fmaxf(m, xr[d * inner]);
        m = group.max(m, scratch);
        if (m == NN_NEG_INF) m = 0.0f;
        float s = 0.0f;
        for (i64 d = group.lane; d < dim; d += group.width) s += expf(xr[d * inner] - m);
        s = group.sum(s, scratch);
        if (logMode) {
            const float shift = m + logf(s);
            for (i64 d = group.lane; d < dim; d += group.width) yr[d * inner] = xr[d * inner] - shift;
        } else {
            const float reciprocal = 1.0f / s;
            for (i64 d = group.lane; d < dim; d += group.width) yr[d * inner] = expf(xr[d * inner] - m) * reciprocal;
        }
    }
}

// The input gradient from the output y: softmax y·(g − Σ g·y); log-softmax g − exp(y)·Σ g.
template <int MODE>
static __device__ __forceinline__ void nn_softmax_backward(const float* g, const float* y, float* dx, i64 outer,
                                                           i64 dim, i64 inner, i64 logMode, float* scratch) {
    const NNGroup<MODE> group;
    const i64 rows = outer * inner;
    for (i64 r = group.first; r < rows; r += group.step) {
        const i64 base = nn_row_base(r, dim, inner);
        const float *gr = g + base, *yr = y + base;
        float* dr = dx + base;
        float total = 0.0f;
        if (logMode) {
            for (i64 d = group.lane; d < dim; d += group.width) total += gr[d * inner];
        } else {
            for (i64 d = group.lane; d < dim; d += group.width) total += gr[d * inner] * yr[d * inner];
        }
        total = group.sum(total, scratch);
        if (logMode) {
            for (i64 d = group.lane; d < dim; d += group.width) dr[d * inner] = gr[d * inner] - expf(yr[d * inner]) * total;
        } else {
            for (i64 d = group.lane; d < dim; d += group.width) dr[d * inner] = yr[d * inner] * (gr[d * inner] - total);
        }
    }
}

#define NN_SOFTMAX_KERNELS(SUFFIX, MODE, BOUND)                                                                       \
    extern "C" __global__ void __launch_bounds__(BOUND) ck_nn_softmax_forward_##SUFFIX(const float* x, float* y, i64 outer, i64 dim,      \
                                                              i64 inner, i64 logMode) {                          \
        __shared__ float scratch[32];                                                                            \
        nn_softmax_forward<MODE>(x, y, outer, dim, inner, logMode, scratch);                                     \
    }                                                                                                            \
    extern "C" __global__ void __launch_bounds__(BOUND) ck_nn_softmax_backward_##SUFFIX(const float* g, const float* y, float* dx,        \
                                                               i64 outer, i64 dim, i64 inner, i64 logMode) {     \
        __shared__ float scratch[32];                                                                            \
        nn_softmax_backward<MODE>(g, y, dx, outer, dim, inner, logMode, scratch);                                \
    }

NN_SOFTMAX_KERNELS(thread, NN_THREAD, 256)
NN_SOFTMAX_KERNELS(warp, NN_WARP, 256)
NN_SOFTMAX_KERNELS(block, NN_BLOCK, 1024)

// ---------------------------------------------------------------------------------------------
// Cross-entropy fused with log-softmax (logits [outer, classes, inner], one row per (o, i)).

// The arguments the cross-entropy kernels share.
struct NNCrossEntropyArgs {
    i64 outer, classes, inner;
    i64 probabilityTarget;  // 1: float probabilities with the logits' layout; 0: int32 indices
    i64 ignoreIndex;
    float epsilon;    // label smoothing ε
    float smoothing;  // ε / classes (computed by the host in float, as the CPU)
};

// Per row: lse = max + log Σ exp(x − max) (-inf when the NaN-skipping max is -inf, as the CPU's
// logSumExp); index target t: loss = (1−ε)·w[t]·(lse − x[t]) + (ε/C)·Σ w[c]·(lse − x[c]),
// weight w[t] (both 0 when t == ignoreIndex); probability target q:
// loss = Σ w[c]·((1−ε)·q[c] + ε/C)·(lse − x[c]), weight 1.
template <int MODE>
static __device__ __forceinline__ void nn_cross_entropy_forward(const float* x, const void* target, const float* w,
                                                                float* losses, float* rowWeights, float* lses,
                                                                NNCrossEntropyArgs a, float* scratch) {
    const NNGroup<MODE> group;
    const i64 rows = a.outer * a.inner, classes = a.classes, inner = a.inner;
    const float* q = (const float*)target;
    const int* indices = (const int*)target;
    const float keep = 1.0f - a.epsilon;
    for (i64 r = group.first; r < rows; r += group.step) {
        const i64 base = nn_row_base(r, classes, inner);
        const float* xr = x + base;
        float m = NN_NEG_INF;
        for (i64 c = group.lane; c < classes; c += group.width) m = fmaxf(m, xr[c * inner]);
        m = group.max(m, scratch);
        float lse = m;
        if (m != NN_NEG_INF) {  // uniform across the group: m is the group's maximum
            float s = 0.0f;
            for (i64 c = group.lane; c < classes; c += group.width) s += expf(xr[c * inner] - m);
            s = group.sum(s, scratch);
            lse = m + logf(s);
        }
        float loss, rowWeight;
        if (a.probabilityTarget) {
            const float* qr = q + base;
            float partial = 0.0f;
            for (i64 c = group.lane; c < classes; c += group.width) {
                const float t = keep * qr[c * inner] + a.smoothing;
                partial += (w ? w[c] : 1.0f) * t * (lse - xr[c * inner]);
            }
            loss = group.sum(partial, scratch);
            rowWeight = 1.0f;
        } else {
            const i64 t = indices[r];
            if (t == a.ignoreIndex) {
                loss = 0.0f;
                rowWeight = 0.0f;
            } else if (t < 0 || t >= classes) {
                // An index that validateClassTargets will report: never read out of bounds.
                loss = __int_as_float(0x7fc00000);
                rowWeight = __int_as_float(0x7fc00000);
            } else {
                const float targetWeight = w ? w[t] : 1.0f;
                loss = keep * targetWeight * (lse - xr[t * inner]);
                if (a.epsilon > 0.0f) {
                    float partial = 0.0f;
                    for (i64 c = group.lane; c < classes; c += group.width) {
                        partial += (w ? w[c] : 1.0f) * (lse - xr[c * inner]);
                    }
                    loss += a.smoothing * group.sum(partial, scratch);
                }
                rowWeight = targetWeight;
            }
        }
        if (group.lane == 0) {
            lses[r] = lse;
            losses[r] = loss;
            rowWeights[r] = rowWeight;
        }
    }
}

// gradLogits = s_r·(p·Σa − a) with a[c] the coefficient of (lse − x[c]) in the loss (0 on ignored
// rows); gradTarget (probability targets) = s_r·(1−ε)·w[c]·(lse − x[c]). s_r = g[r] (perRow) or
// g[0], divided by normaliser[0] when given. totalWeight: Σ w (null: no weight, Σ w = classes).
template <int MODE>
static __device__ __forceinline__ void nn_cross_entropy_backward(const float* g, i64 perRow, const float* normaliser,
                                                                 const float* x, const void* target, const float* w,
                                                                 const float* lses, float* dx, float* dq,
                                                                 const float* totalWeightIn, NNCrossEntropyArgs a,
                                                                 float* scratch) {
    const NNGroup<MODE> group;
    const i64 rows = a.outer * a.inner, classes = a.classes, inner = a.inner;
    const float* q = (const float*)target;
    const int* indices = (const int*)target;
    const float keep = 1.0f - a.epsilon;
    const float divisor = normaliser ? normaliser[0] : 1.0f;
    const float totalWeight = totalWeightIn ? totalWeightIn[0] : (float)classes;
    for (i64 r = group.first; r < rows; r += group.step) {
        const i64 base = nn_row_base(r, classes, inner);
        const float lse = lses[r];
        const float scale = (perRow ? g[r] : g[0]) / divisor;
        if (a.probabilityTarget) {
            const float* qr = q + base;
            float partial = 0.0f;
            for (i64 c = group.lane; c < classes; c += group.width) {
                partial += (w ? w[c] : 1.0f) * (keep * qr[c * inner] + a.smoothing);
            }
            const float coefficientSum = group.sum(partial, scratch);
            for (i64 c = group.lane; c < classes; c += group.width) {
                const i64 i = base + c * inner;
                const float wc = w ? w[c] : 1.0f;
                if (dx) {
                    const float coefficient = wc * (keep * q[i] + a.smoothing);
                    dx[i] = scale * (expf(x[i] - lse) * coefficientSum - coefficient);
                }
                if (dq) dq[i] = scale * keep * wc * (lse - x[i]);
            }
            continue;
        }
        if (!dx) continue;
        const i64 t = indices[r];
        if (t == a.ignoreIndex) {
            for (i64 c = group.lane; c < classes; c += group.width) dx[base + c * inner] = 0.0f;
            continue;
        }
        if (t < 0 || t >= classes) {
            for (i64 c = group.lane; c < classes; c += group.width) dx[base + c * inner] = __int_as_float(0x7fc00000);
            continue;
        }
        const float targetWeight = w ? w[t] : 1.0f;
        const float coefficientSum = keep * targetWeight + a.smoothing * totalWeight;
        const float scaledSum = scale * coefficientSum, scaledSmoothing = scale * a.smoothing;
        const float targetTerm = scale * keep * targetWeight;
        for (i64 c = group.lane; c < classes; c += group.width) {
            const i64 i = base + c * inner;
            float v = expf(x[i] - lse) * scaledSum - scaledSmoothing * (w ? w[c] : 1.0f);
            if (c == t) v -= targetTerm;
            dx[i] = v;
        }
    }
}

#define NN_CROSS_ENTROPY_KERNELS(SUFFIX, MODE, BOUND)                                                                 \
    extern "C" __global__ void __launch_bounds__(BOUND) ck_nn_cross_entropy_forward_##SUFFIX(                                             \
        const float* x, const void* target, const float* w, float* losses, float* rowWeights, float* lses,      \
        NNCrossEntropyArgs a) {                                                                                  \
        __shared__ float scratch[32];                                                                            \
        nn_cross_entropy_forward<MODE>(x, target, w, losses, rowWeights, lses, a, scratch);                     \
    }                                                                                                            \
    extern "C" __global__ void __launch_bounds__(BOUND) ck_nn_cross_entropy_backward_##SUFFIX(                                            \
        const float* g, i64 perRow, const float* normaliser, const float* x, const void* target, const float* w, \
        const float* lses, float* dx, float* dq, const float* totalWeight, NNCrossEntropyArgs a) {               \
        __shared__ float scratch[32];                                                                            \
        nn_cross_entropy_backward<MODE>(g, perRow, normaliser, x, target, w, lses, dx, dq, totalWeight, a,       \
                                        scratch);                                                                \
    }

NN_CROSS_ENTROPY_KERNELS(thread, NN_THREAD, 256)
NN_CROSS_ENTROPY_KERNELS(warp, NN_WARP, 256)
NN_CROSS_ENTROPY_KERNELS(block, NN_BLOCK, 1024)

// out[0] = Σ w[c] in index order in float (the CPU's totalWeight, bit for bit). One thread.
extern "C" __global__ void ck_nn_sequential_sum(const float* w, float* out, i64 count) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    float total = 0.0f;
    for (i64 c = 0; c < count; ++c) total += w[c];
    out[0] = total;
}

// One block: Σ loss and Σ weight in Float64 (fixed order: per-thread strided sums, then the block
// reduction); out[0] = Σ loss (sum) or Σ loss / Σ weight (mean; 0/0 = NaN when every row is
// ignored); normaliser[0] = Σ weight when given.
extern "C" __global__ void ck_nn_cross_entropy_reduce(const float* losses, const float* weights, i64 rows,
                                                      i64 mean, float* out, float* normaliser) {
    __shared__ double scratch[32];
    double lossSum = 0.0, weightSum = 0.0;
    for (i64 r = threadIdx.x; r < rows; r += blockDim.x) {
        lossSum += (double)losses[r];
        weightSum += (double)weights[r];
    }
    lossSum = ck_block_sum_double(lossSum, scratch);
    weightSum = ck_block_sum_double(weightSum, scratch);
    if (threadIdx.x == 0) {
        out[0] = mean ? (float)(lossSum / weightSum) : (float)lossSum;
        if (normaliser) normaliser[0] = (float)weightSum;
    }
}

// Class-index validation without a host round trip: found[0] = the lowest position whose index is
// outside [0, classes) and not ignoreIndex (left at its initial all-ones value when there is none).
extern "C" __global__ void ck_nn_find_bad_target(const int* __restrict__ target, i64 n, i64 classes, i64 ignoreIndex,
                                                 unsigned long long* found) {
    CK_LOOP(i, n) {
        const i64 t = target[i];
        if (t != ignoreIndex && (t < 0 || t >= classes)) atomicMin(found, (unsigned long long)i);
    }
}

// found[1] = the index at position found[0] (one thread), so the report survives the target's memory.
extern "C" __global__ void ck_nn_fetch_bad_target(const int* __restrict__ target, unsigned long long* found) {
    if (found[0] != ~0ull) found[1] = (unsigned long long)(long long)target[found[0]];
}
