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
// Register-resident rows (inner == 1, dim <= 32768): the row group loads its row once into
// registers (V float4 per thread, 16-byte loads when the row is 16-byte aligned, coalesced scalar
// loads otherwise), reduces, and writes from registers, so each input is read from memory once.
// Element k = 4j + t of a thread sits at column ((j·width + lane)·4 + t) in vector mode and at
// ((4j + t)·width + lane) in scalar mode; columns at or past `dim` hold a neutral fill.

template <bool VEC>
static __device__ __forceinline__ int nn_column(int j, int t, int lane, int width) {
    return VEC ? ((j * width + lane) << 2) + t : ((j << 2) + t) * width + lane;
}

template <bool VEC, int V>
static __device__ __forceinline__ void nn_row_load(const float* __restrict__ p, int dim, int lane, int width,
                                                   float (&v)[4 * V], float fill) {
#pragma unroll
    for (int j = 0; j < V; ++j) {
        if (VEC) {
            const int c = nn_column<true>(j, 0, lane, width);
            if (c < dim) {
                const float4 q = *(const float4*)(p + c);
                v[4 * j] = q.x; v[4 * j + 1] = q.y; v[4 * j + 2] = q.z; v[4 * j + 3] = q.w;
            } else {
                v[4 * j] = fill; v[4 * j + 1] = fill; v[4 * j + 2] = fill; v[4 * j + 3] = fill;
            }
        } else {
#pragma unroll
            for (int t = 0; t < 4; ++t) {
                const int c = nn_column<false>(j, t, lane, width);
                v[4 * j + t] = c < dim ? p[c] : fill;
            }
        }
    }
}

template <bool VEC, int V>
static __device__ __forceinline__ void nn_row_store(float* __restrict__ p, int dim, int lane, int width,
                                                    const float (&v)[4 * V]) {
#pragma unroll
    for (int j = 0; j < V; ++j) {
        if (VEC) {
            const int c = nn_column<true>(j, 0, lane, width);
            if (c < dim) *(float4*)(p + c) = make_float4(v[4 * j], v[4 * j + 1], v[4 * j + 2], v[4 * j + 3]);
        } else {
#pragma unroll
            for (int t = 0; t < 4; ++t) {
                const int c = nn_column<false>(j, t, lane, width);
                if (c < dim) p[c] = v[4 * j + t];
            }
        }
    }
}

// Vector mode needs rows of a multiple of 4 floats and 16-byte aligned pointers.
static __device__ __forceinline__ bool nn_rows_vectorisable(i64 dim, const void* a, const void* b, const void* c) {
    return (dim & 3) == 0 && (((unsigned long long)a | (unsigned long long)b | (unsigned long long)c) & 15) == 0;
}

// Softmax / log-softmax as nn_softmax_forward (same NaN and -inf rules), one exp per element.
template <int MODE, int V, bool VEC>
static __device__ __forceinline__ void nn_softmax_rows_forward(const float* __restrict__ x, float* __restrict__ y,
                                                               i64 rows, int dim, i64 logMode, float* scratch) {
    const NNGroup<MODE> group;
    for (i64 r = group.first; r < rows; r += group.step) {
        float v[4 * V];
        nn_row_load<VEC, V>(x + r * dim, dim, group.lane, group.width, v, NN_NEG_INF);
        float m = NN_NEG_INF;
#pragma unroll
        for (int k = 0; k < 4 * V; ++k) m = fmaxf(m, v[k]);
        m = group.max(m, scratch);
        if (m == NN_NEG_INF) m = 0.0f;
        float s = 0.0f;
        if (logMode) {
#pragma unroll
            for (int k = 0; k < 4 * V; ++k) s += expf(v[k] - m);
        } else {
#pragma unroll
            for (int k = 0; k < 4 * V; ++k) { v[k] = expf(v[k] - m); s += v[k]; }
        }
        s = group.sum(s, scratch);
        if (logMode) {
            const float shift = m + logf(s);
#pragma unroll
            for (int k = 0; k < 4 * V; ++k) v[k] -= shift;
        } else {
            const float reciprocal = 1.0f / s;
#pragma unroll
            for (int k = 0; k < 4 * V; ++k) v[k] *= reciprocal;
        }
        nn_row_store<VEC, V>(y + r * dim, dim, group.lane, group.width, v);
    }
}

// The input gradient as nn_softmax_backward. The row of `a` (g for log-softmax, y for softmax)
// stays in registers; `b` (the other one) is kept too when KEEP, otherwise read again for the
// output (for softmax, from L2: one block's row is at most 128 KiB).
template <int MODE, int V, bool VEC, bool KEEP>
static __device__ __forceinline__ void nn_softmax_rows_backward(const float* __restrict__ g, const float* __restrict__ y,
                                                                float* __restrict__ dx, i64 rows, int dim, i64 logMode,
                                                                float* scratch) {
    const NNGroup<MODE> group;
    for (i64 r = group.first; r < rows; r += group.step) {
        const i64 base = r * dim;
        const float* aRow = (logMode ? g : y) + base;
        const float* bRow = (logMode ? y : g) + base;
        float a[4 * V], b[4 * V];
        nn_row_load<VEC, V>(aRow, dim, group.lane, group.width, a, 0.0f);
        float total = 0.0f;
        if (logMode) {
#pragma unroll
            for (int k = 0; k < 4 * V; ++k) total += a[k];
        } else if (KEEP) {
            nn_row_load<VEC, V>(bRow, dim, group.lane, group.width, b, 0.0f);
#pragma unroll
            for (int k = 0; k < 4 * V; ++k) total += b[k] * a[k];
        } else {
            // Two float4 of b at a time, so that a and b never both fill the registers.
#pragma unroll 2
            for (int j = 0; j < V; ++j) {
#pragma unroll
                for (int t = 0; t < 4; ++t) {
                    const int c = nn_column<VEC>(j, t, group.lane, group.width);
                    float bv = 0.0f;
                    if (c < dim) bv = bRow[c];
                    // a[] is indexed by the unrolled t and a j known after unrolling by 2.
                    float av = 0.0f;
#pragma unroll
                    for (int jj = 0; jj < V; ++jj) if (jj == j) av = a[4 * jj + t];
                    total += bv * av;
                }
            }
        }
        total = group.sum(total, scratch);
        if (!KEEP) {
            // The output two float4 at a time, reading b as it goes.
            float* dRow = dx + base;
#pragma unroll 2
            for (int j = 0; j < V; ++j) {
#pragma unroll
                for (int t = 0; t < 4; ++t) {
                    const int c = nn_column<VEC>(j, t, group.lane, group.width);
                    if (c < dim) {
                        float av = 0.0f;
#pragma unroll
                        for (int jj = 0; jj < V; ++jj) if (jj == j) av = a[4 * jj + t];
                        const float bv = bRow[c];
                        dRow[c] = logMode ? av - expf(bv) * total : av * (bv - total);
                    }
                }
            }
            continue;
        }
        if (logMode) nn_row_load<VEC, V>(bRow, dim, group.lane, group.width, b, 0.0f);
        if (logMode) {
#pragma unroll
            for (int k = 0; k < 4 * V; ++k) a[k] = a[k] - expf(b[k]) * total;
        } else {
#pragma unroll
            for (int k = 0; k < 4 * V; ++k) a[k] = a[k] * (b[k] - total);
        }
        nn_row_store<VEC, V>(dx + base, dim, group.lane, group.width, a);
    }
}

#define NN_SOFTMAX_ROWS_KERNELS(SUFFIX, MODE, BOUND, V, KEEP)                                                    \
    extern "C" __global__ void __launch_bounds__(BOUND) ck_nn_softmax_rows_forward_##SUFFIX(                    \
        const float* __restrict__ x, float* __restrict__ y, i64 rows, i64 dim, i64 logMode) {                  \
        __shared__ float scratch[32];                                                                           \
        if (nn_rows_vectorisable(dim, x, y, y))                                                                 \
            nn_softmax_rows_forward<MODE, V, true>(x, y, rows, (int)dim, logMode, scratch);                    \
        else                                                                                                    \
            nn_softmax_rows_forward<MODE, V, false>(x, y, rows, (int)dim, logMode, scratch);                   \
    }                                                                                                           \
    extern "C" __global__ void __launch_bounds__(BOUND) ck_nn_softmax_rows_backward_##SUFFIX(                   \
        const float* __restrict__ g, const float* __restrict__ y, float* __restrict__ dx, i64 rows, i64 dim,   \
        i64 logMode) {                                                                                          \
        __shared__ float scratch[32];                                                                           \
        if (nn_rows_vectorisable(dim, g, y, dx))                                                                \
            nn_softmax_rows_backward<MODE, V, true, KEEP>(g, y, dx, rows, (int)dim, logMode, scratch);         \
        else                                                                                                    \
            nn_softmax_rows_backward<MODE, V, false, KEEP>(g, y, dx, rows, (int)dim, logMode, scratch);        \
    }

NN_SOFTMAX_ROWS_KERNELS(thread_v1, NN_THREAD, 256, 1, true)
NN_SOFTMAX_ROWS_KERNELS(thread_v2, NN_THREAD, 256, 2, true)
NN_SOFTMAX_ROWS_KERNELS(thread_v4, NN_THREAD, 256, 4, true)
NN_SOFTMAX_ROWS_KERNELS(thread_v8, NN_THREAD, 256, 8, true)
NN_SOFTMAX_ROWS_KERNELS(warp_v1, NN_WARP, 256, 1, true)
NN_SOFTMAX_ROWS_KERNELS(warp_v2, NN_WARP, 256, 2, true)
NN_SOFTMAX_ROWS_KERNELS(warp_v4, NN_WARP, 256, 4, true)
NN_SOFTMAX_ROWS_KERNELS(warp_v8, NN_WARP, 256, 8, true)
NN_SOFTMAX_ROWS_KERNELS(block_v1, NN_BLOCK, 1024, 1, true)
NN_SOFTMAX_ROWS_KERNELS(block_v2, NN_BLOCK, 1024, 2, true)
NN_SOFTMAX_ROWS_KERNELS(block_v4, NN_BLOCK, 1024, 4, false)
NN_SOFTMAX_ROWS_KERNELS(block_v8, NN_BLOCK, 1024, 8, false)

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

// Register-resident rows for class-index targets (inner == 1, classes <= 32768): the forward pass
// reads each logit once (nn_cross_entropy_forward's formulas); the backward pass is one streaming
// pass per row (read x, write (p − y)·w·s) with 16-byte accesses where the rows allow.
template <int MODE, int V, bool VEC>
static __device__ __forceinline__ void nn_cross_entropy_rows_forward(const float* __restrict__ x, const int* __restrict__ indices,
                                                                     const float* __restrict__ w, float* __restrict__ losses,
                                                                     float* __restrict__ rowWeights, float* __restrict__ lses,
                                                                     NNCrossEntropyArgs a, float* scratch) {
    const NNGroup<MODE> group;
    const i64 rows = a.outer;
    const int classes = (int)a.classes;
    const float keep = 1.0f - a.epsilon;
    for (i64 r = group.first; r < rows; r += group.step) {
        const float* xr = x + r * classes;
        float v[4 * V];
        nn_row_load<VEC, V>(xr, classes, group.lane, group.width, v, NN_NEG_INF);
        float m = NN_NEG_INF;
#pragma unroll
        for (int k = 0; k < 4 * V; ++k) m = fmaxf(m, v[k]);
        m = group.max(m, scratch);
        float lse = m;
        if (m != NN_NEG_INF) {  // uniform across the group
            float s = 0.0f;
#pragma unroll
            for (int k = 0; k < 4 * V; ++k) s += expf(v[k] - m);
            s = group.sum(s, scratch);
            lse = m + logf(s);
        }
        float loss, rowWeight;
        const i64 t = indices[r];
        if (t == a.ignoreIndex) {
            loss = 0.0f;
            rowWeight = 0.0f;
        } else if (t < 0 || t >= classes) {
            loss = __int_as_float(0x7fc00000);
            rowWeight = __int_as_float(0x7fc00000);
        } else {
            const float targetWeight = w ? w[t] : 1.0f;
            loss = keep * targetWeight * (lse - xr[t]);
            if (a.epsilon > 0.0f) {
                // Read again (from L2) rather than kept: the row's registers are free by now.
                float partial = 0.0f;
                for (int c = group.lane; c < classes; c += group.width) partial += (w ? w[c] : 1.0f) * (lse - xr[c]);
                loss += a.smoothing * group.sum(partial, scratch);
            }
            rowWeight = targetWeight;
        }
        if (group.lane == 0) {
            lses[r] = lse;
            losses[r] = loss;
            rowWeights[r] = rowWeight;
        }
    }
}

// Where the fused pass leaves what the launch found: per-block values, the validation result
// and the reduction.
struct NNCrossEntropyResults {
    double* partials;             // 2 · gridDim.x: each block's loss sum, then each block's weight sum
    unsigned long long* badRows;  // gridDim.x: each block's lowest bad row (all ones when none)
    unsigned int* counter;        // blocks finished; 0 before the launch, and reset to 0 by the last block;
                                  // null: only the rows (crossEntropyForward), no reduction or check
    unsigned long long* found;    // [lowest bad row or all ones, its index], as ck_nn_check_targets_block
    float* out;                   // Σ loss (sum) or Σ loss / Σ weight (mean); null for reduction none
    float* normaliser;            // Σ weight, or null
    i64 mean;
};

// The end of the fused pass (every thread of every block): each block adds the losses and
// weights of its rows, which its threads have just written (in row order per group, then Float64
// across the groups), and finds its lowest bad target among the rows whose weight is NaN. The
// last block to finish combines the blocks' values in block order (a fixed order: deterministic
// for a given grid) and writes the reduction and the validation result, so that the loss, its
// reduction and the target check take one launch.
template <int MODE>
static __device__ __forceinline__ void nn_cross_entropy_finish(const float* losses, const float* rowWeights,
                                                               const int* __restrict__ indices, NNCrossEntropyArgs a,
                                                               NNCrossEntropyResults res) {
    __shared__ double scratch[32];
    __shared__ unsigned long long lowest;
    __shared__ bool isLast;
    const NNGroup<MODE> group;
    if (threadIdx.x == 0) lowest = ~0ull;
    __syncthreads();  // the block's rows written (and `lowest` set) before they are read
    float groupLoss = 0.0f, groupWeight = 0.0f;
    if (group.lane == 0) {
        bool seenBad = false;
        for (i64 r = group.first; r < a.outer; r += group.step) {
            const float rowWeight = rowWeights[r];
            groupLoss += losses[r];
            groupWeight += rowWeight;
            if (isnan(rowWeight) && !seenBad) {  // a bad index, or a NaN class weight
                const i64 t = indices[r];
                if (t != a.ignoreIndex && (t < 0 || t >= a.classes)) {
                    atomicMin(&lowest, (unsigned long long)r);  // this group's later rows are higher
                    seenBad = true;
                }
            }
        }
    }
    const double lossSum = ck_block_sum_double(groupLoss, scratch);
    const double weightSum = ck_block_sum_double(groupWeight, scratch);
    __syncthreads();
    if (threadIdx.x == 0) {
        res.partials[blockIdx.x] = lossSum;
        res.partials[gridDim.x + blockIdx.x] = weightSum;
        res.badRows[blockIdx.x] = lowest;
        __threadfence();  // the values before the count that makes them visible to the last block
        isLast = atomicAdd(res.counter, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (!isLast) return;
    __threadfence();
    double totalLoss = 0.0, totalWeight = 0.0;
    unsigned long long bad = ~0ull;
    for (unsigned b = threadIdx.x; b < gridDim.x; b += blockDim.x) {
        totalLoss += __ldcg(res.partials + b);  // from L2: other blocks wrote them
        totalWeight += __ldcg(res.partials + gridDim.x + b);
        bad = min(bad, __ldcg(res.badRows + b));
    }
    totalLoss = ck_block_sum_double(totalLoss, scratch);
    totalWeight = ck_block_sum_double(totalWeight, scratch);
    if (threadIdx.x == 0) lowest = ~0ull;
    __syncthreads();
    if (bad != ~0ull) atomicMin(&lowest, bad);
    __syncthreads();
    if (threadIdx.x == 0) {
        if (res.out) res.out[0] = res.mean ? (float)(totalLoss / totalWeight) : (float)totalLoss;
        if (res.normaliser) res.normaliser[0] = (float)totalWeight;
        res.found[0] = lowest;
        if (lowest != ~0ull) res.found[1] = (unsigned long long)(long long)indices[lowest];
        *res.counter = 0;
    }
}

// One value of the index-target gradient: (p·Σa − a) scaled, as nn_cross_entropy_backward.
struct NNCrossEntropyRowGradient {
    float lse, scaledSum, scaledSmoothing, targetTerm;
    const float* w;
    int t;
    __device__ __forceinline__ float operator()(float xc, int c) const {
        float value = expf(xc - lse) * scaledSum - scaledSmoothing * (w ? w[c] : 1.0f);
        if (c == t) value -= targetTerm;
        return value;
    }
};

template <int MODE, bool VEC>
static __device__ __forceinline__ void nn_cross_entropy_rows_backward(const float* __restrict__ g, i64 perRow,
                                                                      const float* __restrict__ normaliser,
                                                                      const float* __restrict__ x, const int* __restrict__ indices,
                                                                      const float* __restrict__ w, const float* __restrict__ lses,
                                                                      float* __restrict__ dx, const float* __restrict__ totalWeightIn,
                                                                      NNCrossEntropyArgs a) {
    const NNGroup<MODE> group;
    const i64 rows = a.outer;
    const int classes = (int)a.classes;
    const float keep = 1.0f - a.epsilon;
    const float divisor = normaliser ? normaliser[0] : 1.0f;
    const float totalWeight = totalWeightIn ? totalWeightIn[0] : (float)classes;
    for (i64 r = group.first; r < rows; r += group.step) {
        const i64 base = r * classes;
        const i64 t = indices[r];
        float* dr = dx + base;
        const float* xr = x + base;
        if (t == a.ignoreIndex || t < 0 || t >= classes) {
            const float fill = t == a.ignoreIndex ? 0.0f : __int_as_float(0x7fc00000);
            if (VEC) {
                for (int c = group.lane * 4; c < classes; c += group.width * 4) *(float4*)(dr + c) = make_float4(fill, fill, fill, fill);
            } else {
                for (int c = group.lane; c < classes; c += group.width) dr[c] = fill;
            }
            continue;
        }
        const float scale = (perRow ? g[r] : g[0]) / divisor;
        const float targetWeight = w ? w[t] : 1.0f;
        const float coefficientSum = keep * targetWeight + a.smoothing * totalWeight;
        NNCrossEntropyRowGradient f;
        f.lse = lses[r];
        f.scaledSum = scale * coefficientSum;
        f.scaledSmoothing = scale * a.smoothing;
        f.targetTerm = scale * keep * targetWeight;
        f.w = w;
        f.t = (int)t;
        if (VEC) {
#pragma unroll 4
            for (int c = group.lane * 4; c < classes; c += group.width * 4) {
                const float4 q = *(const float4*)(xr + c);
                *(float4*)(dr + c) = make_float4(f(q.x, c), f(q.y, c + 1), f(q.z, c + 2), f(q.w, c + 3));
            }
        } else {
#pragma unroll 4
            for (int c = group.lane; c < classes; c += group.width) dr[c] = f(xr[c], c);
        }
    }
}

#define NN_CROSS_ENTROPY_ROWS_KERNELS(SUFFIX, MODE, BOUND, V)                                                   \
    extern "C" __global__ void __launch_bounds__(BOUND) ck_nn_cross_entropy_rows_forward_##SUFFIX(              \
        const float* __restrict__ x, const int* __restrict__ target, const float* __restrict__ w,              \
        float* __restrict__ losses, float* __restrict__ rowWeights, float* __restrict__ lses,                  \
        NNCrossEntropyArgs a, NNCrossEntropyResults res) {                                                      \
        __shared__ float scratch[32];                                                                           \
        if (nn_rows_vectorisable(a.classes, x, x, x))                                                           \
            nn_cross_entropy_rows_forward<MODE, V, true>(x, target, w, losses, rowWeights, lses, a, scratch);  \
        else                                                                                                    \
            nn_cross_entropy_rows_forward<MODE, V, false>(x, target, w, losses, rowWeights, lses, a, scratch); \
        if (res.counter) nn_cross_entropy_finish<MODE>(losses, rowWeights, target, a, res);                     \
    }                                                                                                           \
    extern "C" __global__ void __launch_bounds__(BOUND) ck_nn_cross_entropy_rows_backward_##SUFFIX(             \
        const float* __restrict__ g, i64 perRow, const float* __restrict__ normaliser,                         \
        const float* __restrict__ x, const int* __restrict__ target, const float* __restrict__ w,              \
        const float* __restrict__ lses, float* __restrict__ dx, const float* __restrict__ totalWeight,         \
        NNCrossEntropyArgs a) {                                                                                 \
        if (nn_rows_vectorisable(a.classes, x, dx, dx))                                                         \
            nn_cross_entropy_rows_backward<MODE, true>(g, perRow, normaliser, x, target, w, lses, dx,          \
                                                       totalWeight, a);                                         \
        else                                                                                                    \
            nn_cross_entropy_rows_backward<MODE, false>(g, perRow, normaliser, x, target, w, lses, dx,         \
                                                        totalWeight, a);                                        \
    }

NN_CROSS_ENTROPY_ROWS_KERNELS(thread_v1, NN_THREAD, 256, 1)
NN_CROSS_ENTROPY_ROWS_KERNELS(thread_v2, NN_THREAD, 256, 2)
NN_CROSS_ENTROPY_ROWS_KERNELS(thread_v4, NN_THREAD, 256, 4)
NN_CROSS_ENTROPY_ROWS_KERNELS(thread_v8, NN_THREAD, 256, 8)
NN_CROSS_ENTROPY_ROWS_KERNELS(warp_v1, NN_WARP, 256, 1)
NN_CROSS_ENTROPY_ROWS_KERNELS(warp_v2, NN_WARP, 256, 2)
NN_CROSS_ENTROPY_ROWS_KERNELS(warp_v4, NN_WARP, 256, 4)
NN_CROSS_ENTROPY_ROWS_KERNELS(warp_v8, NN_WARP, 256, 8)
NN_CROSS_ENTROPY_ROWS_KERNELS(block_v1, NN_BLOCK, 1024, 1)
NN_CROSS_ENTROPY_ROWS_KERNELS(block_v2, NN_BLOCK, 1024, 2)
NN_CROSS_ENTROPY_ROWS_KERNELS(block_v4, NN_BLOCK, 1024, 4)
NN_CROSS_ENTROPY_ROWS_KERNELS(block_v8, NN_BLOCK, 1024, 8)

// out[0] = Σ w[c] in index order in float (the CPU's totalWeight, bit for bit). One thread.
extern "C" __global__ void ck_nn_sequential_sum(const float* w, float* out, i64 count) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    float total = 0.0f;
    for (i64 c = 0; c < count; ++c) total += w[c];
    out[0] = total;
}

// Σ a[first, last) and Σ b[first, last) in Float64 over one block, in a fixed order (per-thread
// strided sums, then the block reduction), returned to every thread.
template <typename T>
static __device__ __forceinline__ void nn_block_sums(const T* a, const T* b, i64 first, i64 last, double& sumA,
                                                     double& sumB, double* scratch) {
    sumA = 0.0;
    sumB = 0.0;
    // Unrolled so that eight loads of each are in flight (the rows were just written: L2 hits).
#pragma unroll 8
    for (i64 r = first + threadIdx.x; r < last; r += blockDim.x) {
        sumA += (double)a[r];
        sumB += (double)b[r];
    }
    sumA = ck_block_sum_double(sumA, scratch);
    sumB = ck_block_sum_double(sumB, scratch);
}

// The reduction's result (thread 0): out[0] = Σ loss (sum) or Σ loss / Σ weight (mean; 0/0 = NaN
// when every row is ignored); normaliser[0] = Σ weight when given.
static __device__ __forceinline__ void nn_cross_entropy_result(double lossSum, double weightSum, i64 mean, float* out,
                                                               float* normaliser) {
    if (threadIdx.x != 0) return;
    out[0] = mean ? (float)(lossSum / weightSum) : (float)lossSum;
    if (normaliser) normaliser[0] = (float)weightSum;
}

// One block sums every row's loss and weight and writes the result.
extern "C" __global__ void ck_nn_cross_entropy_reduce(const float* losses, const float* weights, i64 rows,
                                                      i64 mean, float* out, float* normaliser) {
    __shared__ double scratch[32];
    double lossSum, weightSum;
    nn_block_sums(losses, weights, 0, rows, lossSum, weightSum, scratch);
    nn_cross_entropy_result(lossSum, weightSum, mean, out, normaliser);
}

// The first stage of the reduction over many rows: block b sums rows [b·chunk, (b+1)·chunk)
// into partials[b] (losses) and partials[blocks + b] (weights).
extern "C" __global__ void ck_nn_cross_entropy_partial_sums(const float* losses, const float* weights, i64 rows,
                                                            i64 chunk, double* partials) {
    __shared__ double scratch[32];
    const i64 first = (i64)blockIdx.x * chunk;
    double lossSum, weightSum;
    nn_block_sums(losses, weights, first, min(rows, first + chunk), lossSum, weightSum, scratch);
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = lossSum;
        partials[gridDim.x + blockIdx.x] = weightSum;
    }
}

// The second stage: one block adds the `blocks` partial sums in a fixed order and writes the result.
extern "C" __global__ void ck_nn_cross_entropy_reduce_partials(const double* partials, i64 blocks, i64 mean,
                                                               float* out, float* normaliser) {
    __shared__ double scratch[32];
    double lossSum, weightSum;
    nn_block_sums(partials, partials + blocks, 0, blocks, lossSum, weightSum, scratch);
    nn_cross_entropy_result(lossSum, weightSum, mean, out, normaliser);
}

// Class-index validation in one block, for up to a few hundred thousand targets: found[0] = the
// lowest bad position (all ones when there is none) and found[1] its index, written without a
// prior memset (the result of ck_nn_find_bad_target and ck_nn_fetch_bad_target together).
extern "C" __global__ void ck_nn_check_targets_block(const int* __restrict__ target, i64 n, i64 classes, i64 ignoreIndex,
                                                     unsigned long long* found) {
    __shared__ unsigned long long lowest;
    if (threadIdx.x == 0) lowest = ~0ull;
    __syncthreads();
    for (i64 i = threadIdx.x; i < n; i += blockDim.x) {
        const i64 t = target[i];
        if (t != ignoreIndex && (t < 0 || t >= classes)) {
            atomicMin(&lowest, (unsigned long long)i);
            break;  // later positions of this thread are higher
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        found[0] = lowest;
        if (lowest != ~0ull) found[1] = (unsigned long long)(long long)target[lowest];
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
