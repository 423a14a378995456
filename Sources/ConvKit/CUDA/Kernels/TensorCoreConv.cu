// Tensor-core implicit-GEMM convolution: TF32 `mma.sync.m16n8k8` on NCHW tensors as they are.
//
// Per group, the forward pass is the GEMM
//   Y[(img,oh,ow), co] = Σ_(c,kh,kw) X̂[(img,oh,ow), (c,kh,kw)] · W[co, (c,kh,kw)]
// with M = n·outH·outW pixels, N = outChannels/groups, K = (C/groups)·kH·kW. X̂ never exists: its
// tiles are gathered from the input with 4-byte `cp.async` (zero-filled where a tap falls in the
// padding) through a table of per-k offsets, built once per call by `ck_tc_prepare` together
// with the weight, repacked as [group][Kpad][Npad] (zero-padded to whole tiles) so its tiles load
// with 16-byte `cp.async` and no predicates. The input gradient of a stride-1 convolution is the
// same kernel run on dY with the flipped, transposed weight (`ck_tc_prepare` with `flipped`).
//
// Tiling: 128 pixels × BN channels (BN = 64 or 128) × 32-deep slices, 3-stage cp.async pipeline,
// warps of 64×32 (4 × 4 mma tiles), smem rows padded by 8 floats so every fragment load and
// every cp.async store is free of bank conflicts.
//
// Precision: `ck_tc_conv_tf32_*` rounds both operands to TF32 (cvt.rna) and multiplies once.
// `ck_tc_conv_3xtf32_*` splits each operand a = big + small (big = tf32(a), small = tf32(a − big))
// and accumulates small·big + big·small + big·big in fp32: about fp32's accuracy on tensor cores
// (CUTLASS's "3xTF32 fast accurate"). An infinite operand gives NaN there (inf · 0 in a small
// term). The reduction order is fixed by the tiling, so results are bitwise reproducible.
#include "Common.cuh"

// The convolution's sizes, as Swift passes them (16 long longs, see `Conv2dGeometry.algorithmKernelArgument`).
struct TcGeometry {
    i64 n, c, h, w, co, kh, kw, sh, sw, pt, pl, dh, dw, groups, oh, ow;
};

#define TC_BM 128
#define TC_BK 32
#define TC_STAGES 3
#define TC_PAD 8
#define TC_LDA (TC_BM + TC_PAD)
// Row length of the weight gradient's [row][pixel] tiles (36: fragment loads free of bank conflicts).
#define TC_LDK (TC_BK + 4)
// A tap whose row offset is this far negative is out of bounds for every pixel (k beyond K, or a
// pixel beyond M).
#define TC_NOWHERE (-(1 << 28))

// Entry k of the k table of geometry g (see ck_tc_prepare).
static __device__ __forceinline__ int4 tc_tap(const TcGeometry& g, i64 k) {
    const i64 taps = g.kh * g.kw, K = g.c / g.groups * taps;
    if (k >= K) return make_int4(0, TC_NOWHERE, TC_NOWHERE, 0);
    const i64 c = k / taps, t = k - c * taps, khh = t / g.kw, kww = t - khh * g.kw;
    return make_int4((int)(c * g.h * g.w + khh * g.dh * g.w + kww * g.dw), (int)(khh * g.dh), (int)(kww * g.dw), 0);
}

// Repacks the weight and builds the k table for the GEMM of geometry `g` (the convolution the
// tensor-core kernel computes). K = cg·kh·kw, k = (c, kh, kw); column n = output channel in group.
//   wp[(group·Kpad + k)·Npad + n] = weight of (group, n, k), 0 outside K × N
//     forward:  w[((group·N + n)·cg + c)·taps + t]                 (w as [co][cg][kh][kw])
//     flipped:  w[((group·cg + c)·N + n)·taps + (taps − 1 − t)]    (the forward layer's weight,
//               for the input gradient of a stride-1 convolution: g is then the dgrad GEMM)
//   table[k] = {c·h·w + kh·dh·w + kw·dw, kh·dh, kw·dw, 0}, and {0, NOWHERE, NOWHERE, 0} for k ≥ K.
extern "C" __global__ void ck_tc_prepare(const float* __restrict__ w, float* __restrict__ wp, int4* __restrict__ table,
                                         TcGeometry g, i64 kPad, i64 nPad, i64 flipped) {
    const i64 cg = g.c / g.groups, N = g.co / g.groups, taps = g.kh * g.kw, K = cg * taps;
    const i64 total = g.groups * kPad * nPad;
    CK_LOOP(i, total) {
        const i64 n = i % nPad, k = (i / nPad) % kPad, group = i / (nPad * kPad);
        float v = 0.0f;
        if (k < K && n < N) {
            const i64 c = k / taps, t = k - c * taps;
            v = flipped ? w[((group * cg + c) * N + n) * taps + (taps - 1 - t)] : w[((group * N + n) * cg + c) * taps + t];
        }
        wp[i] = v;
        if (i < kPad) table[i] = tc_tap(g, i);
    }
}

// The k table alone (`kPad` entries), for the weight gradient.
extern "C" __global__ void ck_tc_taps(int4* __restrict__ table, TcGeometry g, i64 kPad) {
    CK_LOOP(i, kPad) table[i] = tc_tap(g, i);
}

// 4 bytes from `source` to shared memory, or 4 zero bytes when `valid` is false (nothing is read).
static __device__ __forceinline__ void tc_copy4(float* destination, const float* source, bool valid) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(ck_shared_address(destination)), "l"(source),
                 "r"(valid ? 4 : 0));
}

// 16 bytes from `source` (16-byte aligned) to shared memory, bypassing L1.
static __device__ __forceinline__ void tc_copy16(float* destination, const float* source) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(ck_shared_address(destination)), "l"(source));
}

// x = big + small, both TF32; a non-finite x keeps small = 0 (so NaN stays NaN).
static __device__ __forceinline__ void tc_split(float x, unsigned& big, unsigned& small) {
    big = ck_tf32_bits(x);
    const float rest = x - __uint_as_float(big);
    small = ck_tf32_bits(rest == rest ? rest : 0.0f);
}

// d += a · b for one 16×8×8 tile (row-major A, column-major B, fp32 accumulators).
static __device__ __forceinline__ void tc_mma(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// acc += the 32-deep slice product of the warp's 64×32 tile. K_MAJOR: the forward layout,
// as[k·(128+8) + m] and bs[k·(BN+8) + n]; otherwise the weight gradient's, as[m·36 + k] and
// bs[n·36 + k]. The slice's sum starts from zero and is added to acc with round-to-nearest fp32
// adds: the tensor cores' own accumulation truncates, which over a long K drifts toward zero.
template <int BN, bool SPLIT, bool K_MAJOR>
static __device__ __forceinline__ void tc_multiply_slice(const float* as, const float* bs, int wm, int wn, int lane,
                                                         float (&acc)[4][4][4]) {
    constexpr int LDB = BN + TC_PAD;
    const int gq = lane >> 2, tq = lane & 3;
    auto aAt = [&](int k, int m) { return K_MAJOR ? as[k * TC_LDA + m] : as[m * TC_LDK + k]; };
    auto bAt = [&](int k, int n) { return K_MAJOR ? bs[k * LDB + n] : bs[n * TC_LDK + k]; };
    float part[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int r = 0; r < 4; ++r) part[i][j][r] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < TC_BK; ks += 8) {
        unsigned bBig[4][2], bSmall[4][2];
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) {
            const int n = wn + ni * 8 + gq;
            const float b0 = bAt(ks + tq, n), b1 = bAt(ks + tq + 4, n);
            if (SPLIT) {
                tc_split(b0, bBig[ni][0], bSmall[ni][0]);
                tc_split(b1, bBig[ni][1], bSmall[ni][1]);
            } else {
                bBig[ni][0] = ck_tf32_bits(b0);
                bBig[ni][1] = ck_tf32_bits(b1);
            }
        }
#pragma unroll
        for (int mi = 0; mi < 4; ++mi) {
            const int m = wm + mi * 16 + gq;
            const float a[4] = {aAt(ks + tq, m), aAt(ks + tq, m + 8), aAt(ks + tq + 4, m), aAt(ks + tq + 4, m + 8)};
            unsigned aBig[4], aSmall[4];
#pragma unroll
            for (int r = 0; r < 4; ++r) {
                if (SPLIT) tc_split(a[r], aBig[r], aSmall[r]);
                else aBig[r] = ck_tf32_bits(a[r]);
            }
#pragma unroll
            for (int ni = 0; ni < 4; ++ni) {
                if (SPLIT) {
                    tc_mma(part[mi][ni], aSmall, bBig[ni]);
                    tc_mma(part[mi][ni], aBig, bSmall[ni]);
                }
                tc_mma(part[mi][ni], aBig, bBig[ni]);
            }
        }
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int r = 0; r < 4; ++r) acc[i][j][r] += part[i][j][r];
}

// One block: output tile of pixels [m0, m0 + 128) × channels [n0, n0 + BN) of group `group`.
template <int BN, bool SPLIT>
static __device__ __forceinline__ void tc_conv(const float* __restrict__ x, const float* __restrict__ wp,
                                               const int4* __restrict__ table, const float* __restrict__ bias,
                                               float* __restrict__ y, const TcGeometry& g, int kPad, int nPad) {
    constexpr int THREADS = BN * 2;  // warps of 64×32: 2 along M, BN/32 along N
    constexpr int LDB = BN + TC_PAD;
    constexpr int A_STAGE = TC_BK * TC_LDA, B_STAGE = TC_BK * LDB;
    extern __shared__ __align__(16) float tc_smem[];
    float* As = tc_smem;
    float* Bs = tc_smem + TC_STAGES * A_STAGE;

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const i64 cg = g.c / g.groups, N = g.co / g.groups, ohw = g.oh * g.ow, M = g.n * ohw;
    const int nTiles = nPad / BN;
    const int group = blockIdx.y / nTiles, n0 = (blockIdx.y - group * nTiles) * BN;
    const i64 m0 = (i64)blockIdx.x * TC_BM;

    // A loader: one pixel per thread, taps k0 + tid/128 + j·(THREADS/128).
    const int am = tid % TC_BM;
    const i64 pixel = m0 + am;
    int ih0 = TC_NOWHERE, iw0 = TC_NOWHERE;
    const float* xGroup = x + group * cg * g.h * g.w;
    if (pixel < M) {
        const i64 image = pixel / ohw, p = pixel - image * ohw, ohh = p / g.ow, oww = p - ohh * g.ow;
        ih0 = (int)(ohh * g.sh - g.pt);
        iw0 = (int)(oww * g.sw - g.pl);
        xGroup += image * g.c * g.h * g.w;
    }
    const int pixelOffset = pixel < M ? ih0 * (int)g.w + iw0 : 0;
    const int h = (int)g.h, w = (int)g.w;
    // B loader: 16-byte chunks, BN/4 per row.
    const int bColumn = (tid % (BN / 4)) * 4, bRow = tid / (BN / 4);
    const float* wpGroup = wp + (i64)group * kPad * nPad + n0 + bColumn;

    auto loadStage = [&](int stage, int kTile) {
        const int k0 = kTile * TC_BK;
        float* as = As + stage * A_STAGE;
#pragma unroll 8
        for (int j = 0; j < TC_BK * TC_BM / THREADS; ++j) {
            const int kk = tid / TC_BM + j * (THREADS / TC_BM);
            const int4 e = __ldg(&table[k0 + kk]);
            const int ih = ih0 + e.y, iw = iw0 + e.z;
            const bool valid = (unsigned)ih < (unsigned)h && (unsigned)iw < (unsigned)w;
            tc_copy4(as + kk * TC_LDA + am, valid ? xGroup + (pixelOffset + e.x) : x, valid);
        }
        float* bs = Bs + stage * B_STAGE;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int row = bRow + j * (THREADS / (BN / 4));
            tc_copy16(bs + row * LDB + bColumn, wpGroup + (i64)(k0 + row) * nPad);
        }
    };

    const int wm = (warp & 1) * 64, wn = (warp >> 1) * 32;
    const int gq = lane >> 2, tq = lane & 3;
    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.0f;

    const int kTiles = kPad / TC_BK;
#pragma unroll
    for (int s = 0; s < TC_STAGES - 1; ++s) {
        if (s < kTiles) loadStage(s, s);
        ck_cp_async_commit();
    }
    for (int kt = 0; kt < kTiles; ++kt) {
        ck_cp_async_wait<TC_STAGES - 2>();
        __syncthreads();
        const int next = kt + TC_STAGES - 1;
        if (next < kTiles) loadStage(next % TC_STAGES, next);
        ck_cp_async_commit();

        tc_multiply_slice<BN, SPLIT, true>(As + (kt % TC_STAGES) * A_STAGE, Bs + (kt % TC_STAGES) * B_STAGE, wm, wn,
                                           lane, acc);
    }
    ck_cp_async_wait<0>();

    // Accumulator (mi, ni, r): pixel wm + 16·mi + gq + 8·(r/2), channel wn + 8·ni + 2·tq + r%2;
    // plus the channel's bias when there is one (the y + b of ck_conv_add_channel_bias).
    const float* groupBias = bias ? bias + group * N : nullptr;
#pragma unroll
    for (int mi = 0; mi < 4; ++mi) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const i64 m = m0 + wm + mi * 16 + gq + 8 * half;
            if (m >= M) continue;
            const i64 image = m / ohw, p = m - image * ohw;
            float* yRow = y + (image * g.co + group * N) * ohw + p;
#pragma unroll
            for (int ni = 0; ni < 4; ++ni) {
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int n = n0 + wn + ni * 8 + 2 * tq + e;
                    if (n < N) {
                        const float v = acc[mi][ni][half * 2 + e];
                        yRow[(i64)n * ohw] = groupBias ? v + __ldg(groupBias + n) : v;
                    }
                }
            }
        }
    }
}

// Grid: x over 128-pixel tiles, y over (group, BN-channel tile); block 2·BN threads; dynamic
// shared memory TC_STAGES · 32 · ((128 + 8) + (BN + 8)) floats. `bias` may be null.
#define TC_KERNEL(name, BN, SPLIT)                                                                                   \
    extern "C" __global__ void __launch_bounds__(BN * 2, 1)                                                          \
        name(const float* __restrict__ x, const float* __restrict__ wp, const int4* __restrict__ table,             \
             const float* __restrict__ bias, float* __restrict__ y, TcGeometry g, i64 kPad, i64 nPad) {             \
        tc_conv<BN, SPLIT>(x, wp, table, bias, y, g, (int)kPad, (int)nPad);                                          \
    }

TC_KERNEL(ck_tc_conv_tf32_n128, 128, false)
TC_KERNEL(ck_tc_conv_tf32_n64, 64, false)
TC_KERNEL(ck_tc_conv_3xtf32_n128, 128, true)
TC_KERNEL(ck_tc_conv_3xtf32_n64, 64, true)

// Weight gradient. Per group the GEMM dWᵀ[(c,kh,kw), co] = Σ_pixels X̂[(c,kh,kw), pixel] · dY[pixel, co]:
// rows M = K = cg·kh·kw (the k table's taps), columns N = outChannels/groups, reduced over the
// pixels (img, oh, ow). Split z of gridDim.z covers pixels [z·chunk, min(P, (z+1)·chunk)) and writes
// its partial dW to out + z·splitStride (with one split, out is dW itself); chunk is a multiple of
// 32. Both operands are gathered with 4-byte cp.async, a warp's lanes on 32 consecutive pixels
// (coalesced), into [row][pixel] tiles of 36-float rows.
// Grid: x over 128-row tiles, y over (group, BN-channel tile), z over splits.
template <int BN, bool SPLIT>
static __device__ __forceinline__ void tc_conv_weight(const float* __restrict__ dy, const float* __restrict__ x,
                                                      const int4* __restrict__ table, float* __restrict__ out,
                                                      const TcGeometry& g, int chunk, i64 splitStride) {
    constexpr int THREADS = BN * 2, WARPS = THREADS / 32;
    constexpr int A_STAGE = TC_BM * TC_LDK, B_STAGE = BN * TC_LDK;
    extern __shared__ __align__(16) float tc_smem[];
    float* As = tc_smem;
    float* Bs = tc_smem + TC_STAGES * A_STAGE;

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const i64 cg = g.c / g.groups, N = g.co / g.groups, taps = g.kh * g.kw, K = cg * taps;
    const int ohw = (int)(g.oh * g.ow), P = (int)(g.n * ohw), ow = (int)g.ow;
    const int nTiles = (int)((N + BN - 1) / BN);
    const int group = blockIdx.y / nTiles, n0 = (blockIdx.y - group * nTiles) * BN;
    const int m0 = blockIdx.x * TC_BM;
    const int p0 = blockIdx.z * chunk, p1 = min(P, p0 + chunk);
    const int h = (int)g.h, w = (int)g.w;
    const int sh = (int)g.sh, sw = (int)g.sw, pt = (int)g.pt, pl = (int)g.pl;

    auto loadStage = [&](int stage, int q0) {
        // This thread's pixel of the slice.
        const int q = q0 + lane;
        const bool pixelValid = q < p1;
        int ih0 = TC_NOWHERE, iw0 = TC_NOWHERE, pixelOffset = 0;
        const float* xImage = x;
        const float* dyPixel = dy;
        if (pixelValid) {
            const int image = q / ohw, p = q - image * ohw, ohh = p / ow, oww = p - ohh * ow;
            ih0 = ohh * sh - pt;
            iw0 = oww * sw - pl;
            pixelOffset = ih0 * w + iw0;
            xImage = x + ((i64)image * g.c + group * cg) * g.h * g.w;
            dyPixel = dy + ((i64)image * g.co + group * N + n0) * ohw + p;
        }
        float* as = As + stage * A_STAGE;
#pragma unroll 8
        for (int j = 0; j < TC_BM / WARPS; ++j) {
            const int row = warp + j * WARPS;
            const int4 e = __ldg(&table[m0 + row]);
            const int ih = ih0 + e.y, iw = iw0 + e.z;
            const bool valid = (unsigned)ih < (unsigned)h && (unsigned)iw < (unsigned)w;
            tc_copy4(as + row * TC_LDK + lane, valid ? xImage + (pixelOffset + e.x) : x, valid);
        }
        float* bs = Bs + stage * B_STAGE;
#pragma unroll
        for (int j = 0; j < BN / WARPS; ++j) {
            const int row = warp + j * WARPS;
            const bool valid = pixelValid && n0 + row < N;
            tc_copy4(bs + row * TC_LDK + lane, valid ? dyPixel + (i64)row * ohw : dy, valid);
        }
    };

    const int wm = (warp & 1) * 64, wn = (warp >> 1) * 32;
    const int gq = lane >> 2, tq = lane & 3;
    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.0f;

    const int slices = (p1 - p0 + TC_BK - 1) / TC_BK;
#pragma unroll
    for (int s = 0; s < TC_STAGES - 1; ++s) {
        if (s < slices) loadStage(s, p0 + s * TC_BK);
        ck_cp_async_commit();
    }
    for (int st = 0; st < slices; ++st) {
        ck_cp_async_wait<TC_STAGES - 2>();
        __syncthreads();
        const int next = st + TC_STAGES - 1;
        if (next < slices) loadStage(next % TC_STAGES, p0 + next * TC_BK);
        ck_cp_async_commit();
        tc_multiply_slice<BN, SPLIT, false>(As + (st % TC_STAGES) * A_STAGE, Bs + (st % TC_STAGES) * B_STAGE, wm, wn,
                                            lane, acc);
    }
    ck_cp_async_wait<0>();

    // Accumulator (mi, ni, r): tap row wm + 16·mi + gq + 8·(r/2), channel wn + 8·ni + 2·tq + r%2.
    float* dst = out + (i64)blockIdx.z * splitStride;
#pragma unroll
    for (int mi = 0; mi < 4; ++mi) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const i64 k = m0 + wm + mi * 16 + gq + 8 * half;
            if (k >= K) continue;
#pragma unroll
            for (int ni = 0; ni < 4; ++ni) {
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const i64 n = n0 + wn + ni * 8 + 2 * tq + e;
                    if (n < N) dst[(group * N + n) * K + k] = acc[mi][ni][half * 2 + e];
                }
            }
        }
    }
}

// Grid: x over 128-tap tiles, y over (group, BN-channel tile), z over splits; block 2·BN threads;
// dynamic shared memory TC_STAGES · (128 + BN) · 36 floats.
#define TC_WEIGHT_KERNEL(name, BN, SPLIT)                                                                            \
    extern "C" __global__ void __launch_bounds__(BN * 2, 1)                                                          \
        name(const float* __restrict__ dy, const float* __restrict__ x, const int4* __restrict__ table,             \
             float* __restrict__ out, TcGeometry g, i64 chunk, i64 splitStride) {                                    \
        tc_conv_weight<BN, SPLIT>(dy, x, table, out, g, (int)chunk, splitStride);                                    \
    }

TC_WEIGHT_KERNEL(ck_tc_conv_weight_tf32_n128, 128, false)
TC_WEIGHT_KERNEL(ck_tc_conv_weight_tf32_n64, 64, false)
TC_WEIGHT_KERNEL(ck_tc_conv_weight_3xtf32_n128, 128, true)
TC_WEIGHT_KERNEL(ck_tc_conv_weight_3xtf32_n64, 64, true)
