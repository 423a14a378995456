// Tensor kernels: accumulate, elementwise maps with broadcasting, reductions, strided copies.
//
// Results match the CPU backend (CPU/Tensor/ElementwiseLoops.swift, CPU/CPUTensorKernels.swift):
// where the CPU uses plain float arithmetic the same operations run here in the same order, with
// the `__f*_rn` intrinsics wherever a multiply is followed by an add (NVRTC would otherwise fuse
// them into one FMA, which Swift never does). Sums accumulate in double (the CPU's float partial
// sums are of the same or lower accuracy).
#include "Common.cuh"

// destination[i] += source[i]: gradient accumulation.
extern "C" __global__ void ck_accumulate(const float* __restrict__ source, float* __restrict__ destination, i64 n) {
    CK_LOOP(i, n) destination[i] += source[i];
}

// Up to eight sizes or strides of a strided kernel, passed by value (`.intArray(…, count: 8)`).
struct CkDims {
    i64 v[8];
};

// The element offset of row-major index `i` of `shape` (rank ≥ 1) through `strides`, for two
// operands at once. `I` is `unsigned int` when every index and offset fits (faster division).
template <typename I>
__device__ __forceinline__ void ck_tensor_offsets(I i, const CkDims& shape, int rank, const CkDims& sa,
                                                  const CkDims& sb, I& oa, I& ob) {
    I rem = i;
    oa = 0;
    ob = 0;
    // Unrolled so that every v[d] is a constant index (a dynamic one would copy the structs to
    // local memory).
#pragma unroll
    for (int d = 7; d > 0; --d) {
        if (d < rank) {
            const I size = (I)shape.v[d];
            const I q = rem / size;
            const I r = rem - q * size;
            oa += r * (I)sa.v[d];
            ob += r * (I)sb.v[d];
            rem = q;
        }
    }
    oa += rem * (I)sa.v[0];
    ob += rem * (I)sb.v[0];
}

// MARK: Binary ops

#define CK_OP_ADD 0
#define CK_OP_SUBTRACT 1
#define CK_OP_MULTIPLY 2
#define CK_OP_DIVIDE 3
#define CK_OP_MAXIMUM 4
#define CK_OP_MAXIMUM_SHARE 5

template <int OP>
__device__ __forceinline__ float ck_tensor_binary_op(float a, float b) {
    if (OP == CK_OP_ADD) return a + b;
    if (OP == CK_OP_SUBTRACT) return a - b;
    if (OP == CK_OP_MULTIPLY) return a * b;
    if (OP == CK_OP_DIVIDE) return a / b;
    // NaN from either side propagates (a's first), as torch.maximum.
    if (OP == CK_OP_MAXIMUM) return a != a ? a : (b != b ? b : (a > b ? a : b));
    // maximum's gradient share of a: 0 where a < b, ½ where equal, else 1 (NaNs included).
    return a < b ? 0.0f : (a == b ? 0.5f : 1.0f);
}

template <int OP, typename I>
__device__ __forceinline__ void ck_tensor_binary_body(const float* __restrict__ a, const CkDims& sa,
                                                      const float* __restrict__ b, const CkDims& sb,
                                                      float* __restrict__ out, const CkDims& shape, int rank, I n) {
    const I stride = (I)blockDim.x * gridDim.x;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        I oa, ob;
        ck_tensor_offsets<I>(i, shape, rank, sa, sb, oa, ob);
        out[i] = ck_tensor_binary_op<OP>(a[oa], b[ob]);
    }
}

// out[i] = op(a[Σ iₖ·saₖ], b[Σ iₖ·sbₖ]) over `shape` (rank 1…8, out contiguous). The plain
// kernel uses 32-bit indices (every index and offset below 2³¹); `_wide` uses 64-bit ones.
#define CK_BINARY_KERNELS(NAME, OP)                                                                          \
    extern "C" __global__ void ck_tensor_binary_##NAME(const float* __restrict__ a, CkDims sa,              \
                                                       const float* __restrict__ b, CkDims sb,              \
                                                       float* __restrict__ out, CkDims shape, i64 rank, i64 n) { \
        ck_tensor_binary_body<OP, unsigned int>(a, sa, b, sb, out, shape, (int)rank, (unsigned int)n);      \
    }                                                                                                        \
    extern "C" __global__ void ck_tensor_binary_##NAME##_wide(const float* __restrict__ a, CkDims sa,       \
                                                              const float* __restrict__ b, CkDims sb,       \
                                                              float* __restrict__ out, CkDims shape, i64 rank, \
                                                              i64 n) {                                       \
        ck_tensor_binary_body<OP, i64>(a, sa, b, sb, out, shape, (int)rank, n);                             \
    }

CK_BINARY_KERNELS(add, CK_OP_ADD)
CK_BINARY_KERNELS(subtract, CK_OP_SUBTRACT)
CK_BINARY_KERNELS(multiply, CK_OP_MULTIPLY)
CK_BINARY_KERNELS(divide, CK_OP_DIVIDE)
CK_BINARY_KERNELS(maximum, CK_OP_MAXIMUM)
CK_BINARY_KERNELS(maximum_share, CK_OP_MAXIMUM_SHARE)

// MARK: Unary ops

// eˣ, bit for bit `ElementwiseCPU.exp` (Cephes' expf with the scale applied in two halves).
static __device__ __forceinline__ float ck_tensor_exp(float x) {
    const float c = x != x ? 0.0f : fminf(fmaxf(x, -104.0f), 88.72283f);
    // Round c·log₂e to an integer with the 1.5·2²³ trick.
    const float shifted = __fadd_rn(__fmul_rn(c, 1.442695041f), 12582912.0f);
    const float n = __fsub_rn(shifted, 12582912.0f);
    const int k = __float_as_int(shifted) - 0x4B400000;
    const float r = __fadd_rn(__fsub_rn(c, __fmul_rn(n, 0.693359375f)), __fmul_rn(n, 2.12194440e-4f));
    float p = 1.9875691500e-4f;
    p = __fadd_rn(__fmul_rn(p, r), 1.3981999507e-3f);
    p = __fadd_rn(__fmul_rn(p, r), 8.3334519073e-3f);
    p = __fadd_rn(__fmul_rn(p, r), 4.1665795894e-2f);
    p = __fadd_rn(__fmul_rn(p, r), 1.6666665459e-1f);
    p = __fadd_rn(__fmul_rn(p, r), 5.0000001201e-1f);
    const float e = __fadd_rn(__fadd_rn(__fmul_rn(__fmul_rn(p, r), r), r), 1.0f);
    const int k1 = k >> 1, k2 = k - k1;
    const float s1 = __uint_as_float((unsigned int)(k1 + 127) << 23);
    const float s2 = __uint_as_float((unsigned int)(k2 + 127) << 23);
    const float y = __fmul_rn(__fmul_rn(e, s1), s2);
    return x > 88.72283f ? __int_as_float(0x7f800000) : (x < -104.0f ? 0.0f : (x != x ? x : y));
}

// Natural logarithm, bit for bit `ElementwiseCPU.log` (Cephes' logf, subnormals scaled up first).
static __device__ __forceinline__ float ck_tensor_log(float x) {
    const bool subnormal = x < __int_as_float(0x00800000);  // Float.leastNormalMagnitude
    const float scaled = subnormal ? __fmul_rn(x, 8388608.0f) : x;
    const int bits = __float_as_int(scaled);
    float e = __fsub_rn((float)((bits >> 23) - 126), subnormal ? 23.0f : 0.0f);
    // Mantissa m in [0.5, 1).
    float m = __int_as_float((bits & 0x007FFFFF) | 0x3F000000);
    const bool small = m < 0.707106781186547524f;
    e = small ? __fsub_rn(e, 1.0f) : e;
    m = small ? __fsub_rn(__fadd_rn(m, m), 1.0f) : __fsub_rn(m, 1.0f);
    const float z = __fmul_rn(m, m);
    float y = 7.0376836292e-2f;
    y = __fsub_rn(__fmul_rn(y, m), 1.1514610310e-1f);
    y = __fadd_rn(__fmul_rn(y, m), 1.1676998740e-1f);
    y = __fsub_rn(__fmul_rn(y, m), 1.2420140846e-1f);
    y = __fadd_rn(__fmul_rn(y, m), 1.4249322787e-1f);
    y = __fsub_rn(__fmul_rn(y, m), 1.6668057665e-1f);
    y = __fadd_rn(__fmul_rn(y, m), 2.0000714765e-1f);
    y = __fsub_rn(__fmul_rn(y, m), 2.4999993993e-1f);
    y = __fadd_rn(__fmul_rn(y, m), 3.3333331174e-1f);
    y = __fmul_rn(__fmul_rn(y, m), z);
    y = __fadd_rn(y, __fmul_rn(-2.12194440e-4f, e));
    y = __fadd_rn(y, __fmul_rn(-0.5f, z));
    const float result = __fadd_rn(__fadd_rn(m, y), __fmul_rn(0.693359375f, e));
    const float infinity = __int_as_float(0x7f800000);
    return x > 0.0f ? (x == infinity ? x : result) : (x == 0.0f ? -infinity : __int_as_float(0x7fc00000));
}

#define CK_UN_NEGATE 0
#define CK_UN_EXP 1
#define CK_UN_LOG 2
#define CK_UN_SQRT 3
#define CK_UN_ABS 4
#define CK_UN_SIGN 5
#define CK_UN_SQUARE 6
#define CK_UN_POWER 7
#define CK_UN_ADD_SCALAR 8
#define CK_UN_MULTIPLY_SCALAR 9
#define CK_UN_DIVIDE_BY_SCALAR 10
#define CK_UN_SUBTRACT_FROM_SCALAR 11
#define CK_UN_DIVIDE_SCALAR_BY 12

template <int OP>
__device__ __forceinline__ float ck_tensor_unary_op(float x, float s) {
    if (OP == CK_UN_NEGATE) return -x;
    if (OP == CK_UN_EXP) return ck_tensor_exp(x);
    if (OP == CK_UN_LOG) return ck_tensor_log(x);
    if (OP == CK_UN_SQRT) return __fsqrt_rn(x);
    if (OP == CK_UN_ABS) return fabsf(x);
    if (OP == CK_UN_SIGN) return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : (x != x ? x : 0.0f));
    if (OP == CK_UN_SQUARE) return x * x;
    if (OP == CK_UN_POWER) return powf(x, s);
    if (OP == CK_UN_ADD_SCALAR) return x + s;
    if (OP == CK_UN_MULTIPLY_SCALAR) return x * s;
    if (OP == CK_UN_DIVIDE_BY_SCALAR) return x / s;
    if (OP == CK_UN_SUBTRACT_FROM_SCALAR) return s - x;
    return s / x;  // CK_UN_DIVIDE_SCALAR_BY
}

// y[i] = op(x[i], s) for the first n floats.
#define CK_UNARY_KERNEL(NAME, OP)                                                                             \
    extern "C" __global__ void ck_tensor_unary_##NAME(const float* __restrict__ x, float* __restrict__ y, i64 n, \
                                                      float s) {                                              \
        CK_LOOP(i, n) y[i] = ck_tensor_unary_op<OP>(x[i], s);                                                 \
    }

CK_UNARY_KERNEL(negate, CK_UN_NEGATE)
CK_UNARY_KERNEL(exp, CK_UN_EXP)
CK_UNARY_KERNEL(log, CK_UN_LOG)
CK_UNARY_KERNEL(sqrt, CK_UN_SQRT)
CK_UNARY_KERNEL(abs, CK_UN_ABS)
CK_UNARY_KERNEL(sign, CK_UN_SIGN)
CK_UNARY_KERNEL(square, CK_UN_SQUARE)
CK_UNARY_KERNEL(power, CK_UN_POWER)
CK_UNARY_KERNEL(add_scalar, CK_UN_ADD_SCALAR)
CK_UNARY_KERNEL(multiply_scalar, CK_UN_MULTIPLY_SCALAR)
CK_UNARY_KERNEL(divide_by_scalar, CK_UN_DIVIDE_BY_SCALAR)
CK_UNARY_KERNEL(subtract_from_scalar, CK_UN_SUBTRACT_FROM_SCALAR)
CK_UNARY_KERNEL(divide_scalar_by, CK_UN_DIVIDE_SCALAR_BY)

// MARK: Sum over the middle dimension of [outer, reduced, inner]
//
// The reduced dimension may be split into `parts` chunks (chunk p is [reduced·p/parts,
// reduced·(p+1)/parts)); with parts > 1 each chunk's double sum goes to `partial`, laid out
// [outer, parts, inner], and ck_tensor_sum_partials adds the chunks in order. The launcher picks
// `parts` from the shape alone, so a result does not depend on the GPU it ran on.

// One thread per (o, chunk, i): a sequential double sum down the column.
extern "C" __global__ void ck_tensor_sum_columns(const float* __restrict__ x, float* __restrict__ out,
                                                 double* __restrict__ partial, i64 outer, i64 reduced, i64 inner,
                                                 i64 parts) {
    CK_LOOP(t, outer * parts * inner) {
        const i64 i = t % inner, op = t / inner;
        const i64 p = op % parts, o = op / parts;
        const i64 r0 = reduced * p / parts, r1 = reduced * (p + 1) / parts;
        const float* src = x + (o * reduced + r0) * inner + i;
        double s = 0.0;
        for (i64 r = r0; r < r1; ++r) {
            s += (double)*src;
            src += inner;
        }
        if (parts == 1) out[o * inner + i] = (float)s;
        else partial[t] = s;
    }
}

// inner == 1: one block of threads per (row, chunk), a double block sum (blockDim.x a power of
// two, at most 1024).
extern "C" __global__ void ck_tensor_sum_rows(const float* __restrict__ x, float* __restrict__ out,
                                              double* __restrict__ partial, i64 outer, i64 reduced, i64 parts) {
    __shared__ double scratch[32];
    for (i64 item = blockIdx.x; item < outer * parts; item += gridDim.x) {
        const i64 o = item / parts, p = item % parts;
        const i64 r0 = reduced * p / parts, r1 = reduced * (p + 1) / parts;
        const float* row = x + o * reduced;
        double s = 0.0;
        for (i64 r = r0 + threadIdx.x; r < r1; r += blockDim.x) s += (double)row[r];
        s = ck_block_sum_double(s, scratch);
        if (threadIdx.x == 0) {
            if (parts == 1) out[o] = (float)s;
            else partial[item] = s;
        }
    }
}

// out[o, i] = Σ_p partial[o, p, i], in chunk order.
extern "C" __global__ void ck_tensor_sum_partials(const double* __restrict__ partial, float* __restrict__ out,
                                                  i64 outer, i64 parts, i64 inner) {
    CK_LOOP(t, outer * inner) {
        const i64 o = t / inner, i = t % inner;
        const double* src = partial + o * parts * inner + i;
        double s = 0.0;
        for (i64 p = 0; p < parts; ++p) s += src[p * inner];
        out[t] = (float)s;
    }
}

// MARK: Max over the middle dimension of [outer, reduced, inner]
//
// The first maximum wins and the first NaN wins over any number. Chunks work as for the sum:
// with parts > 1 each chunk's winner (value, position) goes to partialValues/partialIndices
// ([outer, parts, inner]) and ck_tensor_max_partials picks among them.

// Whether candidate (v, at) beats the current (best, bestAt): NaN first (earliest), then the
// larger value, then the earlier position. An empty candidate has at < 0. This is a total order,
// so any combination order gives the sequential scan's answer.
static __device__ __forceinline__ bool ck_tensor_max_beats(float v, i64 at, float best, i64 bestAt) {
    if (at < 0) return false;
    if (bestAt < 0) return true;
    const bool nan = v != v, bestNaN = best != best;
    if (nan || bestNaN) return nan && (!bestNaN || at < bestAt);
    return v > best || (v == best && at < bestAt);
}

// One thread per (o, chunk, i): a sequential scan down the column (stops at a NaN).
extern "C" __global__ void ck_tensor_max_columns(const float* __restrict__ x, float* __restrict__ values,
                                                 int* __restrict__ indices, float* __restrict__ partialValues,
                                                 i64* __restrict__ partialIndices, i64 outer, i64 reduced,
                                                 i64 inner, i64 parts) {
    CK_LOOP(t, outer * parts * inner) {
        const i64 i = t % inner, op = t / inner;
        const i64 p = op % parts, o = op / parts;
        const i64 r0 = reduced * p / parts, r1 = reduced * (p + 1) / parts;
        const float* src = x + o * reduced * inner + i;
        float best = src[r0 * inner];
        i64 at = r0;
        for (i64 r = r0 + 1; r < r1 && best == best; ++r) {
            const float v = src[r * inner];
            if (v > best || v != v) {
                best = v;
                at = r;
            }
        }
        if (parts == 1) {
            values[o * inner + i] = best;
            indices[o * inner + i] = (int)at;
        } else {
            partialValues[t] = best;
            partialIndices[t] = at;
        }
    }
}

// inner == 1: one block of 256 threads per (row, chunk); each thread scans a strided subset,
// then the block picks the winner in shared memory.
extern "C" __global__ void __launch_bounds__(256)
ck_tensor_max_rows(const float* __restrict__ x, float* __restrict__ values, int* __restrict__ indices,
                   float* __restrict__ partialValues, i64* __restrict__ partialIndices, i64 outer, i64 reduced,
                   i64 parts) {
    __shared__ float bestValues[256];
    __shared__ i64 bestIndices[256];
    const int tid = threadIdx.x;
    for (i64 item = blockIdx.x; item < outer * parts; item += gridDim.x) {
        const i64 o = item / parts, p = item % parts;
        const i64 r0 = reduced * p / parts, r1 = reduced * (p + 1) / parts;
        const float* row = x + o * reduced;
        float best = 0.0f;
        i64 at = -1;
        for (i64 r = r0 + tid; r < r1; r += 256) {
            const float v = row[r];
            if (ck_tensor_max_beats(v, r, best, at)) {
                best = v;
                at = r;
            }
        }
        __syncthreads();  // the previous item's readers are done with the arrays
        bestValues[tid] = best;
        bestIndices[tid] = at;
        __syncthreads();
        for (int half = 128; half > 0; half >>= 1) {
            if (tid < half && ck_tensor_max_beats(bestValues[tid + half], bestIndices[tid + half],
                                                  bestValues[tid], bestIndices[tid])) {
                bestValues[tid] = bestValues[tid + half];
                bestIndices[tid] = bestIndices[tid + half];
            }
            __syncthreads();
        }
        if (tid == 0) {
            if (parts == 1) {
                values[o] = bestValues[0];
                indices[o] = (int)bestIndices[0];
            } else {
                partialValues[item] = bestValues[0];
                partialIndices[item] = bestIndices[0];
            }
        }
    }
}

// The winner among each (o, i)'s chunk winners (every chunk is non-empty).
extern "C" __global__ void ck_tensor_max_partials(const float* __restrict__ partialValues,
                                                  const i64* __restrict__ partialIndices, float* __restrict__ values,
                                                  int* __restrict__ indices, i64 outer, i64 parts, i64 inner) {
    CK_LOOP(t, outer * inner) {
        const i64 o = t / inner, i = t % inner;
        const i64 first = o * parts * inner + i;
        float best = partialValues[first];
        i64 at = partialIndices[first];
        for (i64 p = 1; p < parts; ++p) {
            const float v = partialValues[first + p * inner];
            const i64 r = partialIndices[first + p * inner];
            if (ck_tensor_max_beats(v, r, best, at)) {
                best = v;
                at = r;
            }
        }
        values[t] = best;
        indices[t] = (int)at;
    }
}

// The reverse of the max's selection, as a gather: out[o, r, i] = source[o, i] where
// indices[o, i] == r, else 0.
extern "C" __global__ void ck_tensor_scatter_dim(const float* __restrict__ source, const int* __restrict__ indices,
                                                 float* __restrict__ out, i64 outer, i64 reduced, i64 inner) {
    CK_LOOP(t, outer * reduced * inner) {
        const i64 i = t % inner, orow = t / inner;
        const i64 r = orow % reduced, o = orow / reduced;
        const i64 s = o * inner + i;
        out[t] = (i64)indices[s] == r ? source[s] : 0.0f;
    }
}

// MARK: Strided copy

template <typename I>
__device__ __forceinline__ void ck_tensor_copy_body(const unsigned int* __restrict__ source, const CkDims& ss,
                                                    unsigned int* __restrict__ destination, const CkDims& ds,
                                                    const CkDims& shape, int rank, I n) {
    const I stride = (I)blockDim.x * gridDim.x;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        I os, od;
        ck_tensor_offsets<I>(i, shape, rank, ss, ds, os, od);
        destination[od] = source[os];
    }
}

// destination[Σ iₖ·dsₖ] = source[Σ iₖ·ssₖ] for every index of `shape` (rank 1…8; both pointers
// already offset), 4-byte elements of any type. 32-bit indices; `_wide`: 64-bit.
extern "C" __global__ void ck_tensor_copy_strided(const unsigned int* __restrict__ source, CkDims ss,
                                                  unsigned int* __restrict__ destination, CkDims ds, CkDims shape,
                                                  i64 rank, i64 n) {
    ck_tensor_copy_body<unsigned int>(source, ss, destination, ds, shape, (int)rank, (unsigned int)n);
}

extern "C" __global__ void ck_tensor_copy_strided_wide(const unsigned int* __restrict__ source, CkDims ss,
                                                       unsigned int* __restrict__ destination, CkDims ds,
                                                       CkDims shape, i64 rank, i64 n) {
    ck_tensor_copy_body<i64>(source, ss, destination, ds, shape, (int)rank, n);
}

// A transpose-like copy, tiled through shared memory so both sides are coalesced: the view is
// [outer…, rows, cols] where the source walks `rows` contiguously (ssRow == 1) and the
// destination walks `cols` contiguously (dsCol == 1). Each block moves one 32×32 tile of one
// outer index; `outerShape`/`outerSS`/`outerDS` describe up to six outer dimensions.
extern "C" __global__ void __launch_bounds__(256)
ck_tensor_copy_transpose(const unsigned int* __restrict__ source, unsigned int* __restrict__ destination,
                         CkDims outerShape, CkDims outerSS, CkDims outerDS, i64 outerRank, i64 outerCount,
                         i64 rows, i64 cols, i64 ssCol, i64 dsRow) {
    __shared__ unsigned int tile[32][33];
    const i64 rowTiles = (rows + 31) / 32, colTiles = (cols + 31) / 32;
    const i64 tiles = outerCount * rowTiles * colTiles;
    const int tx = threadIdx.x & 31, ty = threadIdx.x >> 5;  // 32 × 8 threads
    for (i64 t = blockIdx.x; t < tiles; t += gridDim.x) {
        const i64 ct = t % colTiles, rest = t / colTiles;
        const i64 rt = rest % rowTiles, outer = rest / rowTiles;
        i64 os, od;
        ck_tensor_offsets<i64>(outer, outerShape, (int)outerRank, outerSS, outerDS, os, od);
        const i64 row0 = rt * 32, col0 = ct * 32;
        __syncthreads();  // the previous tile's readers are done
        // Read: consecutive threads take consecutive rows (contiguous in the source).
        for (int c = ty; c < 32; c += 8) {
            const i64 row = row0 + tx, col = col0 + c;
            if (row < rows && col < cols) tile[c][tx] = source[os + row + col * ssCol];
        }
        __syncthreads();
        // Write: consecutive threads take consecutive columns (contiguous in the destination).
        for (int r = ty; r < 32; r += 8) {
            const i64 row = row0 + r, col = col0 + tx;
            if (row < rows && col < cols) destination[od + row * dsRow + col] = tile[tx][r];
        }
    }
}
