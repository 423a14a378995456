// Pooling kernels: padding, max/average/adaptive pooling, unpooling and their gradients.
//
// Each kernel mirrors the CPU backend (CPU/Pooling/*.swift) operation for operation: the same
// window bounds, the same comparisons (NaN rules, tie-breaking), and sums in the same order, so
// results match the CPU bit for bit where the CPU sums in a fixed order. Every kernel is a
// grid-stride loop with one thread per destination element (backward passes are gathers: each
// input cell enumerates, in ascending order, the outputs that read it), so each destination is
// written exactly once and no floating-point atomics are used.
#include "Common.cuh"

#define CK_POOL_NEG_INF (-__int_as_float(0x7f800000))

// ⌊a / b⌋ for b > 0 and any sign of a.
static __device__ __forceinline__ i64 ck_pool_floor_div(i64 a, i64 b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// ⌈a / b⌉ for b > 0 and any sign of a.
static __device__ __forceinline__ i64 ck_pool_ceil_div(i64 a, i64 b) {
    return -ck_pool_floor_div(-a, b);
}

// ---------------------------------------------------------------------------------------------
// Padding. Modes: 0 constant, 1 reflect, 2 replicate, 3 circular.

// The input index that output j of a padded dimension reads, or -1 for a constant cell
// (CPUBackend.padSourceIndex).
static __device__ __forceinline__ i64 ck_pool_pad_source(i64 j, i64 size, i64 before, i64 after, i64 mode) {
    const i64 i = j - before;
    if (mode == 0) return (i >= 0 && i < size) ? i : -1;
    if (mode == 2) return i < 0 ? 0 : (i > size - 1 ? size - 1 : i);
    if (mode == 1) {
        if (i < 0) return -i;
        if (i >= size) return 2 * (size - 1) - i;
        return i;
    }
    const i64 cropStart = before < 0 ? -before : 0;
    const i64 kept = size - cropStart - (after < 0 ? -after : 0);
    i64 r = (j - (before > 0 ? before : 0)) % kept;
    if (r < 0) r += kept;
    return cropStart + r;
}

// The t-th (in ascending order) candidate output position j of a padded dimension that reads
// input i: -1 when candidate t is not such a position, -2 when there are no more candidates.
// Together the candidates are exactly {j in 0..<outSize : ck_pool_pad_source(j) == i}.
static __device__ __forceinline__ i64 ck_pool_pad_preimage(i64 i, i64 t, i64 size, i64 before, i64 after, i64 mode) {
    const i64 outSize = size + before + after;
    if (mode == 0) {
        if (t > 0) return -2;
        const i64 j = i + before;
        return (j >= 0 && j < outSize) ? j : -1;
    }
    if (mode == 2) {
        // A contiguous run: the edges also take every clamped position beyond them.
        i64 lo = i == 0 ? 0 : i + before;
        i64 hi = i == size - 1 ? outSize - 1 : i + before;
        if (lo < 0) lo = 0;
        if (hi > outSize - 1) hi = outSize - 1;
        const i64 j = lo + t;
        return j <= hi ? j : -2;
    }
    if (mode == 1) {
        // The mirror image left of the input, the cell itself, the mirror image right of it.
        i64 j;
        if (t == 0) {
            if (i <= 0) return -1;
            j = before - i;
        } else if (t == 1) {
            j = before + i;
        } else if (t == 2) {
            if (i >= size - 1) return -1;
            j = before + 2 * (size - 1) - i;
        } else {
            return -2;
        }
        return (j >= 0 && j < outSize) ? j : -1;
    }
    // Circular: every position congruent to the cell's place in the kept (uncropped) range.
    const i64 cropStart = before < 0 ? -before : 0;
    const i64 kept = size - cropStart - (after < 0 ? -after : 0);
    if (i < cropStart || i >= cropStart + kept) return -2;
    const i64 j = ((before > 0 ? before : 0) + (i - cropStart)) % kept + t * kept;
    return j < outSize ? j : -2;
}

// y = pad(x): one thread per output cell.
extern "C" __global__ void ck_pool_pad2d(const float* __restrict__ x, float* __restrict__ y, i64 planes,
                                        i64 inH, i64 inW, i64 top, i64 bottom, i64 left, i64 right,
                                        i64 mode, float value) {
    const i64 outH = inH + top + bottom, outW = inW + left + right;
    CK_LOOP(o, planes * outH * outW) {
        const i64 ow = o % outW, rest = o / outW;
        const i64 oh = rest % outH, plane = rest / outH;
        const i64 r = ck_pool_pad_source(oh, inH, top, bottom, mode);
        const i64 c = ck_pool_pad_source(ow, inW, left, right, mode);
        y[o] = (r < 0 || c < 0) ? value : x[(plane * inH + r) * inW + c];
    }
}

// dx[cell] = Σ dy over the output cells copied from it: output rows ascending, then columns
// ascending (the CPU's order).
extern "C" __global__ void ck_pool_pad2d_backward(const float* __restrict__ dy, float* __restrict__ dx, i64 planes,
                                                 i64 inH, i64 inW, i64 top, i64 bottom, i64 left, i64 right,
                                                 i64 mode) {
    const i64 outH = inH + top + bottom, outW = inW + left + right;
    CK_LOOP(i, planes * inH * inW) {
        const i64 iw = i % inW, rest = i / inW;
        const i64 ih = rest % inH, plane = rest / inH;
        float sum = 0.0f;
        for (i64 tr = 0;; ++tr) {
            const i64 oh = ck_pool_pad_preimage(ih, tr, inH, top, bottom, mode);
            if (oh == -2) break;
            if (oh < 0) continue;
            const float* row = dy + (plane * outH + oh) * outW;
            for (i64 tc = 0;; ++tc) {
                const i64 ow = ck_pool_pad_preimage(iw, tc, inW, left, right, mode);
                if (ow == -2) break;
                if (ow < 0) continue;
                sum += row[ow];
            }
        }
        dx[i] = sum;
    }
}

// ---------------------------------------------------------------------------------------------
// Max pooling.

// A window's first tap at or after 0, stepping the dilation from `start`
// (CPUBackend.firstTapInside; PyTorch's `while (start < 0) start += dilation`).
static __device__ __forceinline__ i64 ck_pool_first_tap_inside(i64 start, i64 dilation) {
    return start >= 0 ? start : start + (-start + dilation - 1) / dilation * dilation;
}

// Max pooling as PyTorch's row-major scan of each window: a value replaces the best so far when
// it is greater or NaN (so the last NaN wins, otherwise the first maximum), starting from -∞ at
// the window's first in-input tap (the index an all -∞ or empty window reports). `indices` may
// be null; it receives the flat position h·W + w (as int32) of each window's result.
extern "C" __global__ void ck_pool_max2d(const float* __restrict__ x, float* __restrict__ y, int* __restrict__ indices,
                                        i64 planes, i64 inH, i64 inW, i64 outH, i64 outW, i64 kH, i64 kW,
                                        i64 sH, i64 sW, i64 pH, i64 pW, i64 dH, i64 dW) {
    CK_LOOP(o, planes * outH * outW) {
        const i64 ow = o % outW, rest = o / outW;
        const i64 oh = rest % outH, plane = rest / outH;
        i64 hStart = oh * sH - pH, wStart = ow * sW - pW;
        const i64 hEnd = min(hStart + (kH - 1) * dH + 1, inH), wEnd = min(wStart + (kW - 1) * dW + 1, inW);
        hStart = ck_pool_first_tap_inside(hStart, dH);
        wStart = ck_pool_first_tap_inside(wStart, dW);
        const float* src = x + plane * inH * inW;
        float best = CK_POOL_NEG_INF;
        i64 bestIndex = hStart * inW + wStart;
        for (i64 h = hStart; h < hEnd; h += dH) {
            const float* row = src + h * inW;
            for (i64 w = wStart; w < wEnd; w += dW) {
                const float v = row[w];
                if (v > best || v != v) { best = v; bestIndex = h * inW + w; }
            }
        }
        y[o] = best;
        if (indices) indices[o] = (int)(unsigned int)(unsigned long long)bestIndex;
    }
}

// dx[cell] = Σ dy[o] over the windows o that contain the cell and whose argmax is the cell:
// window rows ascending, then columns ascending (the CPU's order). Windows with no tap inside
// the input contain no cell, so their out-of-plane indices are never read as a match.
extern "C" __global__ void ck_pool_max2d_backward(const float* __restrict__ dy, const int* __restrict__ indices,
                                                 float* __restrict__ dx, i64 planes, i64 inH, i64 inW,
                                                 i64 outH, i64 outW, i64 kH, i64 kW, i64 sH, i64 sW,
                                                 i64 pH, i64 pW, i64 dH, i64 dW) {
    CK_LOOP(i, planes * inH * inW) {
        const i64 iw = i % inW, rest = i / inW;
        const i64 ih = rest % inH, plane = rest / inH;
        const int target = (int)(ih * inW + iw);
        // Window oh has a tap on row ih when ih + pH − oh·sH = k·dH for some k in 0..<kH.
        const i64 ohFirst = max((i64)0, ck_pool_ceil_div(ih + pH - (kH - 1) * dH, sH));
        const i64 ohLast = min(outH - 1, (ih + pH) / sH);
        const i64 owFirst = max((i64)0, ck_pool_ceil_div(iw + pW - (kW - 1) * dW, sW));
        const i64 owLast = min(outW - 1, (iw + pW) / sW);
        const i64 planeBase = plane * outH * outW;
        float sum = 0.0f;
        for (i64 oh = ohFirst; oh <= ohLast; ++oh) {
            if ((ih + pH - oh * sH) % dH != 0) continue;
            const i64 rowBase = planeBase + oh * outW;
            for (i64 ow = owFirst; ow <= owLast; ++ow) {
                if ((iw + pW - ow * sW) % dW != 0) continue;
                if (indices[rowBase + ow] == target) sum += dy[rowBase + ow];
            }
        }
        dx[i] = sum;
    }
}

// ---------------------------------------------------------------------------------------------
// Max pooling over bands (the fast path; ck_pool_max2d above stays for planes too wide for it).
//
// Forward: a block takes `bandRows` output rows of one plane, stages the input rows they read
// (whole rows: one contiguous range, read with 16-byte loads where aligned) in shared memory,
// then computes each window from there with PyTorch's scan (as ck_pool_max2d). Besides the values
// it can write the int32 flat indices (the public form) and/or a compact argmax: one byte per
// window, the winning tap's position kh·kW + kw within the window (255 for a window with no tap
// inside the input), which is all the backward pass needs and a quarter of the bytes.

// Stages input rows [hLo, hHi) of `plane` (whole rows: one contiguous range) in shared memory
// (ck_stage_floats), after the previous band's readers are done; returns `staged` with
// staged[h·inW + w] = x[plane, h, w] for h in [hLo, hHi).
static __device__ __forceinline__ const float* ck_pool_stage_rows(const float* __restrict__ x, i64 plane, int inH,
                                                                  int inW, int hLo, int hHi) {
    extern __shared__ float4 ck_pool_stage4[];
    __syncthreads();
    const float* staged = ck_stage_floats(x + (plane * inH + hLo) * inW, hHi > hLo ? (hHi - hLo) * inW : 0,
                                          ck_pool_stage4);
    __syncthreads();
    return staged - (i64)hLo * inW;
}

extern "C" __global__ void __launch_bounds__(256) ck_pool_max2d_band(
    const float* __restrict__ x, float* __restrict__ y, int* __restrict__ indices, unsigned char* __restrict__ argmax,
    i64 planes, i64 inH64, i64 inW64, i64 outH64, i64 outW64, i64 kH64, i64 kW64, i64 sH64, i64 sW64, i64 pH64,
    i64 pW64, i64 dH64, i64 dW64, i64 bandRows64, i64 bands) {
    const int inH = (int)inH64, inW = (int)inW64, outH = (int)outH64, outW = (int)outW64;
    const int kH = (int)kH64, kW = (int)kW64, sH = (int)sH64, sW = (int)sW64, pH = (int)pH64, pW = (int)pW64;
    const int dH = (int)dH64, dW = (int)dW64, bandRows = (int)bandRows64;
    const int cols = min(outW, (int)blockDim.x), rowsPerPass = (int)blockDim.x / cols;
    const int c0 = (int)threadIdx.x % cols, r0 = (int)threadIdx.x / cols;
    for (i64 b = blockIdx.x; b < planes * bands; b += gridDim.x) {
        const i64 plane = b / bands;
        const int oh0 = (int)(b - plane * bands) * bandRows, oh1 = min(oh0 + bandRows, outH);
        const int hLo = max(0, oh0 * sH - pH);
        const int hHi = min(inH, (oh1 - 1) * sH - pH + (kH - 1) * dH + 1);
        const float* staged = ck_pool_stage_rows(x, plane, inH, inW, hLo, hHi);
        if (r0 >= rowsPerPass) continue;
        for (int oh = oh0 + r0; oh < oh1; oh += rowsPerPass) {
            const int hs = oh * sH - pH;
            const int hEnd = min(hs + (kH - 1) * dH + 1, inH);
            const int kh0 = hs >= 0 ? 0 : (-hs + dH - 1) / dH;
            const i64 outRow = (plane * outH + oh) * outW;
            for (int ow = c0; ow < outW; ow += cols) {
                const int ws = ow * sW - pW;
                const int wEnd = min(ws + (kW - 1) * dW + 1, inW);
                const int kw0 = ws >= 0 ? 0 : (-ws + dW - 1) / dW;
                const int hFirst = hs + kh0 * dH, wFirst = ws + kw0 * dW;
                float best = CK_POOL_NEG_INF;
                int bestH = hFirst, bestW = wFirst, bestTap = kh0 * kW + kw0;
                for (int kh = kh0, h = hFirst; h < hEnd; ++kh, h += dH) {
                    const float* row = staged + h * inW;
                    for (int kw = kw0, w = wFirst; w < wEnd; ++kw, w += dW) {
                        const float v = row[w];
                        if (v > best || v != v) { best = v; bestH = h; bestW = w; bestTap = kh * kW + kw; }
                    }
                }
                y[outRow + ow] = best;
                if (indices) indices[outRow + ow] = (int)(unsigned int)(unsigned long long)((i64)bestH * inW + bestW);
                if (argmax) argmax[outRow + ow] = (unsigned char)(hFirst < hEnd && wFirst < wEnd ? bestTap : 255);
            }
        }
    }
}

// The band kernel for a square K×K window with stride S and dilation 1 known at compile time
// (k2 s2, k3 s1; k3 s2 takes the strips kernel below): the same staging, scan, NaN rule and outputs, with the window loops
// unrolled and the clipping as predicates, so each window costs a few instructions a tap.
template <int K, int S>
static __device__ __forceinline__ void ck_pool_max2d_band_fixed(
    const float* __restrict__ x, float* __restrict__ y, int* __restrict__ indices, unsigned char* __restrict__ argmax,
    i64 planes, int inH, int inW, int outH, int outW, int pH, int pW, int bandRows, i64 bands) {
    for (i64 b = blockIdx.x; b < planes * bands; b += gridDim.x) {
        const i64 plane = b / bands;
        const int oh0 = (int)(b - plane * bands) * bandRows, oh1 = min(oh0 + bandRows, outH);
        const int hLo = max(0, oh0 * S - pH);
        const int hHi = min(inH, (oh1 - 1) * S - pH + K);
        const float* staged = ck_pool_stage_rows(x, plane, inH, inW, hLo, hHi);
        // The band's windows in row-major order: consecutive threads take consecutive windows.
        const int windows = (oh1 - oh0) * outW;
        for (int e = threadIdx.x; e < windows; e += blockDim.x) {
            const int oh = oh0 + e / outW, ow = e - (e / outW) * outW;
            const int hs = oh * S - pH, ws = ow * S - pW;
            const int kh0 = max(0, -hs), kw0 = max(0, -ws);
            float best = CK_POOL_NEG_INF;
            int bestTap = kh0 * K + kw0, bestH = hs + kh0, bestW = ws + kw0;
#pragma unroll
            for (int kh = 0; kh < K; ++kh) {
                const int h = hs + kh;
                if (h < 0 || h >= inH) continue;
                const float* row = staged + h * inW;
#pragma unroll
                for (int kw = 0; kw < K; ++kw) {
                    const int w = ws + kw;
                    if (w < 0 || w >= inW) continue;
                    const float v = row[w];
                    if (v > best || v != v) { best = v; bestTap = kh * K + kw; bestH = h; bestW = w; }
                }
            }
            const i64 o = (plane * outH + oh) * outW + ow;
            const bool inside = kh0 < K && hs + kh0 < inH && kw0 < K && ws + kw0 < inW;
            y[o] = best;
            if (indices) indices[o] = (int)(unsigned int)(unsigned long long)((i64)bestH * inW + bestW);
            if (argmax) argmax[o] = (unsigned char)(inside ? bestTap : 255);
        }
    }
}

#define CK_POOL_MAX2D_BAND_FIXED(K, S)                                                                              \
    extern "C" __global__ void __launch_bounds__(256) ck_pool_max2d_band_k##K##s##S(                               \
        const float* __restrict__ x, float* __restrict__ y, int* __restrict__ indices,                              \
        unsigned char* __restrict__ argmax, i64 planes, i64 inH, i64 inW, i64 outH, i64 outW, i64 pH, i64 pW,      \
        i64 bandRows, i64 bands) {                                                                                  \
        ck_pool_max2d_band_fixed<K, S>(x, y, indices, argmax, planes, (int)inH, (int)inW, (int)outH, (int)outW,     \
                                       (int)pH, (int)pW, (int)bandRows, bands);                                     \
    }
CK_POOL_MAX2D_BAND_FIXED(2, 2)
CK_POOL_MAX2D_BAND_FIXED(3, 1)

// The same band forward for a K×K window with stride S and dilation 1, as column strips: a thread
// owns one output column and ROWS consecutive output rows of the band and walks the input rows they
// read once, taking the best of each row's K taps by the scan's rule, then letting each window that
// contains the row take that row's best by the same rule, rows in order. That is the row-major scan
// split in two, with the same result: a row's last NaN is the window's last so far, and otherwise a
// row's first maximum replaces the best only when strictly greater, so each window ends with the
// scan's value and winning tap (an all −∞ window keeps its first tap inside the input). A window
// costs about K/S row scans of K taps plus K merges, against K² taps, and only the tap is tracked
// (the flat index follows from it).
template <int K, int S, int ROWS>
static __device__ __forceinline__ void ck_pool_max2d_strips(
    const float* __restrict__ x, float* __restrict__ y, int* __restrict__ indices, unsigned char* __restrict__ argmax,
    i64 planes, int inH, int inW, int outH, int outW, int pH, int pW, int bandRows, i64 bands) {
    constexpr int IN_ROWS = (ROWS - 1) * S + K;  // input rows of one strip
    for (i64 b = blockIdx.x; b < planes * bands; b += gridDim.x) {
        const i64 plane = b / bands;
        const int oh0 = (int)(b - plane * bands) * bandRows, oh1 = min(oh0 + bandRows, outH);
        const int hLo = max(0, oh0 * S - pH);
        const int hHi = min(inH, (oh1 - 1) * S - pH + K);
        const float* staged = ck_pool_stage_rows(x, plane, inH, inW, hLo, hHi);
        const int strips = (oh1 - oh0 + ROWS - 1) / ROWS;
        for (int e = threadIdx.x; e < strips * outW; e += blockDim.x) {
            const int strip = e / outW, ow = e - strip * outW;
            const int ohFirst = oh0 + strip * ROWS, h0 = ohFirst * S - pH;
            const int ws = ow * S - pW, kw0 = max(0, -ws);
            float best[ROWS];
            int tap[ROWS];
#pragma unroll
            for (int j = 0; j < ROWS; ++j) {
                best[j] = CK_POOL_NEG_INF;
                tap[j] = max(0, -(h0 + j * S)) * K + kw0;
            }
#pragma unroll
            for (int r = 0; r < IN_ROWS; ++r) {
                const int h = h0 + r;
                if (h < 0 || h >= hHi) continue;  // rows from hHi on belong to windows past the band
                const float* row = staged + h * inW;
                float rowBest = CK_POOL_NEG_INF;
                int rowTap = kw0;
#pragma unroll
                for (int kw = 0; kw < K; ++kw) {
                    const int w = ws + kw;
                    if (w < 0 || w >= inW) continue;
                    const float v = row[w];
                    if (v > rowBest || v != v) { rowBest = v; rowTap = kw; }
                }
#pragma unroll
                for (int j = 0; j < ROWS; ++j) {
                    const int kh = r - j * S;
                    if (kh < 0 || kh >= K) continue;
                    if (rowBest > best[j] || rowBest != rowBest) { best[j] = rowBest; tap[j] = kh * K + rowTap; }
                }
            }
            const bool colsInside = kw0 < K && ws + kw0 < inW;
#pragma unroll
            for (int j = 0; j < ROWS; ++j) {
                const int oh = ohFirst + j;
                if (oh >= oh1) break;
                const int hs = oh * S - pH, kh0 = max(0, -hs);
                const i64 o = (plane * outH + oh) * outW + ow;
                y[o] = best[j];
                if (indices) indices[o] = (int)(unsigned int)(unsigned long long)((i64)(hs + tap[j] / K) * inW + ws + tap[j] % K);
                if (argmax) argmax[o] = (unsigned char)(colsInside && kh0 < K && hs + kh0 < inH ? tap[j] : 255);
            }
        }
    }
}

// k3 s2 (AlexNet's and ResNet's pooling) as strips of 3 output rows: on the H200 (2026-12-04,
// scripts/kernel_lab) 7–8% faster than the band kernel on 128×64×55×55 and 112×112; 2-row strips
// and smaller bands were slower.
extern "C" __global__ void __launch_bounds__(256) ck_pool_max2d_strips_k3s2(
    const float* __restrict__ x, float* __restrict__ y, int* __restrict__ indices, unsigned char* __restrict__ argmax,
    i64 planes, i64 inH, i64 inW, i64 outH, i64 outW, i64 pH, i64 pW, i64 bandRows, i64 bands) {
    ck_pool_max2d_strips<3, 2, 3>(x, y, indices, argmax, planes, (int)inH, (int)inW, (int)outH, (int)outW, (int)pH,
                                  (int)pW, (int)bandRows, bands);
}

// k2 s2, no padding, input width a multiple of 8 and no partial window (outH·2 ≤ inH, outW·2 =
// inW): non-overlapping windows read straight from memory, a thread per four adjacent windows of a
// row (two 16-byte loads from each of the two input rows, one 16-byte store of values, and of the
// argmax bytes or indices as 4- and 16-byte stores). The same scan as the band kernels.
extern "C" __global__ void __launch_bounds__(256) ck_pool_max2d_k2s2_vec4(
    const float* __restrict__ x, float* __restrict__ y, int* __restrict__ indices, unsigned char* __restrict__ argmax,
    i64 planes, i64 inH, i64 inW, i64 outH, i64 outW) {
    const i64 groups = outW / 4;
    CK_LOOP(item, planes * outH * groups) {
        const i64 q = item % groups, row = item / groups;  // row = plane·outH + oh
        const i64 oh = row % outH, plane = row / outH;
        const float* top = x + (plane * inH + 2 * oh) * inW + 8 * q;
        const float4 t0 = *(const float4*)top, t1 = *(const float4*)(top + 4);
        const float4 b0 = *(const float4*)(top + inW), b1 = *(const float4*)(top + inW + 4);
        const float taps[4][4] = {{t0.x, t0.y, b0.x, b0.y}, {t0.z, t0.w, b0.z, b0.w},
                                  {t1.x, t1.y, b1.x, b1.y}, {t1.z, t1.w, b1.z, b1.w}};
        float best[4];
        int tap[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            best[j] = CK_POOL_NEG_INF;
            tap[j] = 0;
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const float v = taps[j][k];
                if (v > best[j] || v != v) { best[j] = v; tap[j] = k; }
            }
        }
        const i64 o = row * outW + 4 * q;
        *(float4*)(y + o) = make_float4(best[0], best[1], best[2], best[3]);
        if (argmax) {
            *(unsigned int*)(argmax + o) = (unsigned)tap[0] | (unsigned)tap[1] << 8 | (unsigned)tap[2] << 16
                                           | (unsigned)tap[3] << 24;
        }
        if (indices) {
            int flat[4];
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                flat[j] = (int)(unsigned int)(unsigned long long)((2 * oh + (tap[j] >> 1)) * inW + 8 * q + 2 * j + (tap[j] & 1));
            }
            *(int4*)(indices + o) = make_int4(flat[0], flat[1], flat[2], flat[3]);
        }
    }
}

// Its backward from the compact argmax: each input cell lies in exactly one window (or in none:
// the last row of an odd height, which gets 0), so dx = 0 + dy where the window's argmax names
// the cell and 0 elsewhere, as the gather kernels give. A thread per eight cells of an input row.
extern "C" __global__ void __launch_bounds__(256) ck_pool_max2d_backward_k2s2_vec4(
    const float* __restrict__ dy, const unsigned char* __restrict__ argmax, float* __restrict__ dx, i64 planes,
    i64 inH, i64 inW, i64 outH, i64 outW) {
    const i64 groups = inW / 8;
    CK_LOOP(item, planes * inH * groups) {
        const i64 q = item % groups, row = item / groups;  // row = plane·inH + ih
        const i64 ih = row % inH, plane = row / inH, oh = ih >> 1;
        float v[8];
        if (oh < outH) {
            const i64 o = (plane * outH + oh) * outW + 4 * q;
            const float4 g4 = *(const float4*)(dy + o);
            const unsigned int taps = *(const unsigned int*)(argmax + o);
            const float g[4] = {g4.x, g4.y, g4.z, g4.w};
            const int kh = (int)(ih & 1);
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int tap = (int)((taps >> (8 * j)) & 255u);
                v[2 * j] = tap == 2 * kh ? 0.0f + g[j] : 0.0f;
                v[2 * j + 1] = tap == 2 * kh + 1 ? 0.0f + g[j] : 0.0f;
            }
        } else {
#pragma unroll
            for (int k = 0; k < 8; ++k) v[k] = 0.0f;
        }
        float* out = dx + row * inW + 8 * q;
        *(float4*)out = make_float4(v[0], v[1], v[2], v[3]);
        *(float4*)(out + 4) = make_float4(v[4], v[5], v[6], v[7]);
    }
}

// Backward from the compact argmax: dx[cell] = Σ dy[o] over the windows o that contain the cell
// and whose winning tap is the cell, rows then columns ascending (ck_pool_max2d_backward's order),
// so every input cell is written once, without atomics. A block takes `bandRows` input rows of a
// plane; the candidate window ranges of every column and of the band's rows come from small
// shared tables, so the per-cell work has no division (with dilation 1).
// The windows o in [x, y] of a dimension (outSize windows of k taps, dilation d, stride s,
// padding p) whose span may hold input position i (y < x: none).
static __device__ __forceinline__ int2 ck_pool_window_range(int i, int outSize, int k, int s, int p, int d) {
    return make_int2((int)max((i64)0, ck_pool_ceil_div(i + p - (i64)(k - 1) * d, s)), min(outSize - 1, (i + p) / s));
}

// table[j] = the window range of input position first + j, for j < count.
static __device__ __forceinline__ void ck_pool_range_table(int2* table, int first, int count, int outSize, int k,
                                                            int s, int p, int d) {
    for (int j = threadIdx.x; j < count; j += blockDim.x) table[j] = ck_pool_window_range(first + j, outSize, k, s, p, d);
}

extern "C" __global__ void __launch_bounds__(256) ck_pool_max2d_backward_compact(
    const float* __restrict__ dy, const unsigned char* __restrict__ argmax, float* __restrict__ dx, i64 planes,
    i64 inH64, i64 inW64, i64 outH64, i64 outW64, i64 kH64, i64 kW64, i64 sH64, i64 sW64, i64 pH64, i64 pW64,
    i64 dH64, i64 dW64, i64 bandRows64, i64 bands) {
    extern __shared__ int2 ck_pool_ranges[];
    const int inH = (int)inH64, inW = (int)inW64, outH = (int)outH64, outW = (int)outW64;
    const int kH = (int)kH64, kW = (int)kW64, sH = (int)sH64, sW = (int)sW64, pH = (int)pH64, pW = (int)pW64;
    const int dH = (int)dH64, dW = (int)dW64, bandRows = (int)bandRows64;
    int2* colRange = ck_pool_ranges;          // [inW]: the windows ow whose columns may hold iw
    int2* rowRange = ck_pool_ranges + inW;    // [bandRows]: likewise for the band's rows
    ck_pool_range_table(colRange, 0, inW, outW, kW, sW, pW, dW);
    const int cols = min(inW, (int)blockDim.x), rowsPerPass = (int)blockDim.x / cols;
    const int c0 = (int)threadIdx.x % cols, r0 = (int)threadIdx.x / cols;
    for (i64 b = blockIdx.x; b < planes * bands; b += gridDim.x) {
        const i64 plane = b / bands;
        const int ih0 = (int)(b - plane * bands) * bandRows, ih1 = min(ih0 + bandRows, inH);
        __syncthreads();  // the previous band's readers are done
        ck_pool_range_table(rowRange, ih0, ih1 - ih0, outH, kH, sH, pH, dH);
        __syncthreads();
        if (r0 >= rowsPerPass) continue;
        const i64 outPlane = plane * outH;
        for (int r = r0; r < ih1 - ih0; r += rowsPerPass) {
            const int ih = ih0 + r;
            const int2 rows = rowRange[r];
            float* dxRow = dx + (plane * inH + ih) * inW;
            for (int iw = c0; iw < inW; iw += cols) {
                const int2 columns = colRange[iw];
                float sum = 0.0f;
                for (int oh = rows.x; oh <= rows.y; ++oh) {
                    int th = ih + pH - oh * sH;
                    if (dH != 1) {
                        if (th % dH != 0) continue;
                        th /= dH;
                    }
                    const i64 rowBase = (outPlane + oh) * outW;
                    for (int ow = columns.x; ow <= columns.y; ++ow) {
                        int tw = iw + pW - ow * sW;
                        if (dW != 1) {
                            if (tw % dW != 0) continue;
                            tw /= dW;
                        }
                        if (argmax[rowBase + ow] == th * kW + tw) sum += dy[rowBase + ow];
                    }
                }
                dxRow[iw] = sum;
            }
        }
    }
}

// The same backward for dilation 1 and at most two candidate windows per dimension (a span of
// at most 2·stride, as k3 s2 and k2 s2), with the band's output-gradient rows and their argmax
// bytes staged in shared memory first (`cp.async`, ck_stage_floats; the bytes as whole 4-byte
// words), so every load of the gather comes from there: fixed 2 × 2 candidate loops, and a window
// whose argmax is elsewhere adds +0 (which can turn a −0 sum into +0, nothing else). Shared memory:
// the column and row tables (int2, padded to 16 bytes), then ⌈n / 4⌉ + 1 float4 of gradients and
// ⌈(n + 3) / 16⌉ + 2 float4 of argmax words, for n = `stagedWindows` (the host's bound on a band's
// windows: whole output rows).
extern "C" __global__ void __launch_bounds__(256) ck_pool_max2d_backward_staged2(
    const float* __restrict__ dy, const unsigned char* __restrict__ argmax, float* __restrict__ dx, i64 planes,
    i64 inH64, i64 inW64, i64 outH64, i64 outW64, i64 kH64, i64 kW64, i64 sH64, i64 sW64, i64 pH64, i64 pW64,
    i64 bandRows64, i64 bands, i64 stagedWindows) {
    extern __shared__ int2 ck_pool_ranges[];
    const int inH = (int)inH64, inW = (int)inW64, outH = (int)outH64, outW = (int)outW64;
    const int kH = (int)kH64, kW = (int)kW64, sH = (int)sH64, sW = (int)sW64, pH = (int)pH64, pW = (int)pW64;
    const int bandRows = (int)bandRows64;
    int2* colRange = ck_pool_ranges;
    int2* rowRange = ck_pool_ranges + inW;
    float4* gradStage = (float4*)(ck_pool_ranges + ((inW + bandRows + 1) & ~1));
    float4* tapStage = gradStage + ((int)stagedWindows + 3) / 4 + 1;
    ck_pool_range_table(colRange, 0, inW, outW, kW, sW, pW, 1);
    const int cols = min(inW, (int)blockDim.x), rowsPerPass = (int)blockDim.x / cols;
    const int c0 = (int)threadIdx.x % cols, r0 = (int)threadIdx.x / cols;
    for (i64 b = blockIdx.x; b < planes * bands; b += gridDim.x) {
        const i64 plane = b / bands;
        const int ih0 = (int)(b - plane * bands) * bandRows, ih1 = min(ih0 + bandRows, inH);
        // The output rows [oLo, oHi] whose windows can hold a row of the band.
        const int oLo = ck_pool_window_range(ih0, outH, kH, sH, pH, 1).x;
        const int oHi = ck_pool_window_range(ih1 - 1, outH, kH, sH, pH, 1).y;
        const int windows = oHi >= oLo ? (oHi - oLo + 1) * outW : 0;
        const i64 first = (plane * outH + oLo) * outW;
        __syncthreads();  // the previous band's readers are done
        ck_pool_range_table(rowRange, ih0, ih1 - ih0, outH, kH, sH, pH, 1);
        const float* grads = ck_stage_floats(dy + first, windows, gradStage);
        const i64 wordFirst = first & ~(i64)3;  // the argmax bytes as the 4-byte words that hold them
        const int words = windows > 0 ? (int)((first + windows + 3 - wordFirst) >> 2) : 0;
        const unsigned char* taps =
            (const unsigned char*)ck_stage_floats((const float*)(argmax + wordFirst), words, tapStage) + (first - wordFirst);
        __syncthreads();
        if (r0 >= rowsPerPass) continue;
#pragma unroll 4
        for (int r = r0; r < ih1 - ih0; r += rowsPerPass) {
            const int ih = ih0 + r;
            const int2 rows = rowRange[r];
            float* dxRow = dx + (plane * inH + ih) * inW;
            for (int iw = c0; iw < inW; iw += cols) {
                const int2 columns = colRange[iw];
                float sum = 0.0f;
#pragma unroll
                for (int i = 0; i < 2; ++i) {
                    const int oh = rows.x + i, th = ih + pH - oh * sH;
                    const int rowBase = (oh - oLo) * outW;
#pragma unroll
                    for (int j = 0; j < 2; ++j) {
                        const int ow = columns.x + j;
                        if (oh <= rows.y && ow <= columns.y) {
                            const unsigned char tap = taps[rowBase + ow];
                            const float g = grads[rowBase + ow];
                            sum += tap == th * kW + iw + pW - ow * sW ? g : 0.0f;
                        }
                    }
                }
                dxRow[iw] = sum;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Average pooling (dilation 1). A window's clipped bounds and divisor as CPUBackend.AvgWindows:
// it spans [o·s − p, min(o·s − p + k, size + p)) counting padding, its input part is that range
// clipped to [0, size).

// The divisor of window (oh, ow).
static __device__ __forceinline__ float ck_pool_avg_divisor(i64 oh, i64 ow, i64 inH, i64 inW, i64 kH, i64 kW,
                                                           i64 sH, i64 sW, i64 pH, i64 pW,
                                                           i64 countIncludePad, i64 hasOverride, i64 divisorOverride) {
    if (hasOverride) return (float)divisorOverride;
    const i64 hPadStart = oh * sH - pH, wPadStart = ow * sW - pW;
    const i64 hPadEnd = min(hPadStart + kH, inH + pH), wPadEnd = min(wPadStart + kW, inW + pW);
    i64 rows, cols;
    if (countIncludePad) {
        rows = hPadEnd - hPadStart;
        cols = wPadEnd - wPadStart;
    } else {
        rows = max(min(hPadEnd, inH) - max(hPadStart, (i64)0), (i64)0);
        cols = max(min(wPadEnd, inW) - max(wPadStart, (i64)0), (i64)0);
    }
    return (float)(rows * cols);
}

// y = the window's float sum (rows, then columns, ascending) divided by its divisor; 0 for a
// window with no input cell.
extern "C" __global__ void ck_pool_avg2d(const float* __restrict__ x, float* __restrict__ y, i64 planes,
                                        i64 inH, i64 inW, i64 outH, i64 outW, i64 kH, i64 kW,
                                        i64 sH, i64 sW, i64 pH, i64 pW,
                                        i64 countIncludePad, i64 hasOverride, i64 divisorOverride) {
    CK_LOOP(o, planes * outH * outW) {
        const i64 ow = o % outW, rest = o / outW;
        const i64 oh = rest % outH, plane = rest / outH;
        const i64 hPadStart = oh * sH - pH, wPadStart = ow * sW - pW;
        const i64 hStart = max(hPadStart, (i64)0), wStart = max(wPadStart, (i64)0);
        const i64 hEnd = min(min(hPadStart + kH, inH + pH), inH), wEnd = min(min(wPadStart + kW, inW + pW), inW);
        if (hStart >= hEnd || wStart >= wEnd) { y[o] = 0.0f; continue; }
        const float* src = x + plane * inH * inW;
        float sum = 0.0f;
        for (i64 h = hStart; h < hEnd; ++h) {
            const float* row = src + h * inW;
            for (i64 w = wStart; w < wEnd; ++w) sum += row[w];
        }
        y[o] = sum / ck_pool_avg_divisor(oh, ow, inH, inW, kH, kW, sH, sW, pH, pW,
                                         countIncludePad, hasOverride, divisorOverride);
    }
}

// dx[cell] = Σ dy[o] / divisor(o) over the windows o covering the cell: rows ascending, then
// columns ascending (the CPU's order).
extern "C" __global__ void ck_pool_avg2d_backward(const float* __restrict__ dy, float* __restrict__ dx, i64 planes,
                                                 i64 inH, i64 inW, i64 outH, i64 outW, i64 kH, i64 kW,
                                                 i64 sH, i64 sW, i64 pH, i64 pW,
                                                 i64 countIncludePad, i64 hasOverride, i64 divisorOverride) {
    CK_LOOP(i, planes * inH * inW) {
        const i64 iw = i % inW, rest = i / inW;
        const i64 ih = rest % inH, plane = rest / inH;
        // Window oh covers row ih when oh·sH − pH ≤ ih < oh·sH − pH + kH.
        const i64 ohFirst = max((i64)0, ck_pool_ceil_div(ih + pH - kH + 1, sH));
        const i64 ohLast = min(outH - 1, (ih + pH) / sH);
        const i64 owFirst = max((i64)0, ck_pool_ceil_div(iw + pW - kW + 1, sW));
        const i64 owLast = min(outW - 1, (iw + pW) / sW);
        const float* planeGrad = dy + plane * outH * outW;
        float sum = 0.0f;
        for (i64 oh = ohFirst; oh <= ohLast; ++oh) {
            const float* row = planeGrad + oh * outW;
            for (i64 ow = owFirst; ow <= owLast; ++ow) {
                sum += row[ow] / ck_pool_avg_divisor(oh, ow, inH, inW, kH, kW, sH, sW, pH, pW,
                                                     countIncludePad, hasOverride, divisorOverride);
            }
        }
        dx[i] = sum;
    }
}

// ---------------------------------------------------------------------------------------------
// Adaptive average pooling: window i of a dimension is ⌊i·size/out⌋ ..< ⌈(i+1)·size/out⌉.

// First cell of adaptive window i.
static __device__ __forceinline__ i64 ck_pool_adaptive_start(i64 i, i64 size, i64 out) {
    return (i * size) / out;
}

// End (exclusive) of adaptive window i.
static __device__ __forceinline__ i64 ck_pool_adaptive_end(i64 i, i64 size, i64 out) {
    return ((i + 1) * size + out - 1) / out;
}

// y = the window's float sum (rows, then columns) / rows / columns.
extern "C" __global__ void ck_pool_adaptive_avg2d(const float* __restrict__ x, float* __restrict__ y, i64 planes,
                                                 i64 inH, i64 inW, i64 outH, i64 outW) {
    CK_LOOP(o, planes * outH * outW) {
        const i64 ow = o % outW, rest = o / outW;
        const i64 oh = rest % outH, plane = rest / outH;
        const i64 hStart = ck_pool_adaptive_start(oh, inH, outH), hEnd = ck_pool_adaptive_end(oh, inH, outH);
        const i64 wStart = ck_pool_adaptive_start(ow, inW, outW), wEnd = ck_pool_adaptive_end(ow, inW, outW);
        const float* src = x + plane * inH * inW;
        float sum = 0.0f;
        for (i64 h = hStart; h < hEnd; ++h) {
            const float* row = src + h * inW;
            for (i64 w = wStart; w < wEnd; ++w) sum += row[w];
        }
        y[o] = sum / (float)(hEnd - hStart) / (float)(wEnd - wStart);
    }
}

// dx[cell] = Σ dy[o] / rows(o) / columns(o) over the windows covering the cell, rows ascending,
// then columns ascending. The windows covering cell i of a dimension are
// ⌊i·out/size⌋ ..= ⌊((i+1)·out − 1)/size⌋; each is still checked against its bounds.
extern "C" __global__ void ck_pool_adaptive_avg2d_backward(const float* __restrict__ dy, float* __restrict__ dx,
                                                          i64 planes, i64 inH, i64 inW, i64 outH, i64 outW) {
    CK_LOOP(i, planes * inH * inW) {
        const i64 iw = i % inW, rest = i / inW;
        const i64 ih = rest % inH, plane = rest / inH;
        const i64 ohFirst = (ih * outH) / inH, ohLast = min(outH - 1, ((ih + 1) * outH - 1) / inH);
        const i64 owFirst = (iw * outW) / inW, owLast = min(outW - 1, ((iw + 1) * outW - 1) / inW);
        const float* planeGrad = dy + plane * outH * outW;
        float sum = 0.0f;
        for (i64 oh = ohFirst; oh <= ohLast; ++oh) {
            const i64 hStart = ck_pool_adaptive_start(oh, inH, outH), hEnd = ck_pool_adaptive_end(oh, inH, outH);
            if (ih < hStart || ih >= hEnd) continue;
            const float rows = (float)(hEnd - hStart);
            const float* row = planeGrad + oh * outW;
            for (i64 ow = owFirst; ow <= owLast; ++ow) {
                const i64 wStart = ck_pool_adaptive_start(ow, inW, outW), wEnd = ck_pool_adaptive_end(ow, inW, outW);
                if (iw < wStart || iw >= wEnd) continue;
                sum += row[ow] / rows / (float)(wEnd - wStart);
            }
        }
        dx[i] = sum;
    }
}

// ---------------------------------------------------------------------------------------------
// Max unpooling. `status` is two unsigned long longs, preset to all ones: [0] receives the lowest
// flat position of an index outside 0..<outPlane, [1] that index (sign-extended).

// Records the lowest position of an out-of-range index.
extern "C" __global__ void ck_pool_unpool_check(const int* __restrict__ indices, unsigned long long* status,
                                               i64 count, i64 outPlane) {
    CK_LOOP(i, count) {
        const i64 index = indices[i];
        if (index < 0 || index >= outPlane) atomicMin(status, (unsigned long long)i);
    }
}

// One thread: copies the offending index next to its position (after ck_pool_unpool_check).
extern "C" __global__ void ck_pool_unpool_fetch(const int* __restrict__ indices, unsigned long long* status) {
    if (blockIdx.x == 0 && threadIdx.x == 0 && status[0] != ~0ull) {
        status[1] = (unsigned long long)(long long)indices[status[0]];
    }
}

// winner[plane·outPlane + index] = the largest (latest) input position in the plane that
// targets it; `winner` is preset to -1. Integer atomics, so the result is order-independent.
extern "C" __global__ void ck_pool_unpool_claim(const int* __restrict__ indices, int* winner,
                                               i64 planes, i64 inPlane, i64 outPlane) {
    CK_LOOP(i, planes * inPlane) {
        const i64 plane = i / inPlane;
        atomicMax(winner + plane * outPlane + indices[i], (int)(i - plane * inPlane));
    }
}

// y[cell] = the input value of the cell's winner, or 0 where no input targets it.
extern "C" __global__ void ck_pool_unpool_write(const float* __restrict__ x, const int* __restrict__ winner,
                                               float* __restrict__ y, i64 planes, i64 inPlane, i64 outPlane) {
    CK_LOOP(o, planes * outPlane) {
        const int w = winner[o];
        y[o] = w < 0 ? 0.0f : x[(o / outPlane) * inPlane + w];
    }
}

// dx[i] = dy[plane·outPlane + indices[i]] (indices already validated).
extern "C" __global__ void ck_pool_unpool_backward(const float* __restrict__ dy, const int* __restrict__ indices,
                                                  float* __restrict__ dx, i64 planes, i64 inPlane, i64 outPlane) {
    CK_LOOP(i, planes * inPlane) {
        dx[i] = dy[(i / inPlane) * outPlane + indices[i]];
    }
}
