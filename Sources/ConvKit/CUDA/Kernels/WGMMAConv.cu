// Hopper (sm_90a) implicit-GEMM convolution on the warpgroup tensor cores: TF32 `wgmma`.
//
// The forward pass of a one-group convolution is, per image pixel (img, oh, ow) and output
// channel co, the GEMM
//   Y[(img,oh,ow), co] = Σ_(kh,kw,c) X̂[(img,oh,ow), (kh,kw,c)] · W[co, (kh,kw,c)]
// with M = n·outH·outW, N = outChannels, K = kh·kw·C. `wgmma` reads both operands from shared
// memory K-major (the only layout it takes for TF32), so the input goes channels-last first:
// `ck_wg_prepare` writes X as [img][h][w][c] and W as [co][kh][kw][c], both rounded to TF32
// (round to nearest, ties away, as cvt.rna) once, so the tensor cores see exactly TF32 operands
// and the inner loop converts nothing. With C a multiple of
// 32, every 32-deep slice of K is one tap (kh, kw) and 32 consecutive channels: one 128-byte row
// per pixel and per output channel, copied with 16-byte `cp.async` (zero-filled where the tap falls
// in the padding) into 128-byte-swizzled tiles (16-byte chunk j of row r at chunk j ⊕ (r mod 8)),
// the layout the descriptors name. The input gradient of a stride-1 convolution is the same kernel
// on dY with the flipped, transposed weight (`flipped`).
//
// Tiling: 128 pixels × BN channels (64, 128 or 256) × 32-deep slices; 256 threads = two
// warpgroups, each computing 64 pixels × BN channels with m64nBNk8 instructions; STAGES slices in
// flight. Accumulation is the tensor cores' fp32, in a fixed order: results are reproducible.
#include "Common.cuh"

// The convolution's sizes, as Swift passes them (16 long longs, see `Conv2dGeometry.algorithmKernelArgument`).
struct WgGeometry {
    i64 n, c, h, w, co, kh, kw, sh, sw, pt, pl, dh, dw, groups, oh, ow;
};

static __device__ __forceinline__ float wg_tf32(float x) { return __uint_as_float(ck_tf32_bits(x)); }

// The three jobs before the GEMM, in one launch of 256-thread blocks, the short ones first so
// that they overlap the long one:
//  - blocks [0, packBlocks): wp[n][(kh·kw_ + kw)·C + c] = tf32 of the GEMM weight for n < N, 0
//    for N ≤ n < nPad, where C = g.c and N = g.co are the GEMM's input and output channels:
//      forward: w[((n·C + c)·kh_ + kh)·kw_ + kw]                            (w as [N][C][kh][kw])
//      flipped: w[((c·N + n)·kh_ + kh_−1−kh)·kw_ + kw_−1−kw]  (the forward layer's weight [C][N][kh][kw],
//               for the input gradient of a stride-1 convolution: g is then the dgrad GEMM);
//  - the next zeroBlocks: y[0, zeroCount) = 0 (the output, when two splits add into it);
//  - the rest: one 32 × 32 tile (pixels × channels) each of xn[img][p][c] = tf32(x[img][c][p]),
//    p < h·w, through shared memory (tiles: pixels fastest, then channels, then images), stored
//    as 16-byte rows of 4 channels (C is a multiple of 32).
// Sizes fit 32 bits (`wgmmaConvSupports`).
extern "C" __global__ void __launch_bounds__(256) ck_wg_prepare(const float* __restrict__ x, float* __restrict__ xn,
                                                               const float* __restrict__ w, float* __restrict__ wp,
                                                               float* __restrict__ y, WgGeometry g, i64 nPad,
                                                               i64 flipped, i64 zeroCount, i64 packBlocks,
                                                               i64 zeroBlocks) {
    const int block = blockIdx.x, tid = threadIdx.x;
    if (block < packBlocks) {
        const int C = (int)g.c, N = (int)g.co, kh_ = (int)g.kh, kw_ = (int)g.kw, K = kh_ * kw_ * C;
        const int total = (int)nPad * K;
        for (int i = block * 256 + tid; i < total; i += (int)packBlocks * 256) {
            const int n = i / K, k = i - n * K;
            const int tap = k / C, ch = k - tap * C, kh = tap / kw_, kw = tap - kh * kw_;
            float v = 0.0f;
            if (n < N)
                v = flipped ? w[((ch * N + n) * kh_ + (kh_ - 1 - kh)) * kw_ + (kw_ - 1 - kw)]
                            : w[((n * C + ch) * kh_ + kh) * kw_ + kw];
            wp[i] = wg_tf32(v);
        }
    } else if (block < packBlocks + zeroBlocks) {
        for (i64 i = (i64)(block - packBlocks) * 256 + tid; i < zeroCount; i += zeroBlocks * 256) y[i] = 0.0f;
    } else {
        __shared__ float tile[32][33];
        const int t = block - (int)(packBlocks + zeroBlocks);
        const int hw = (int)(g.h * g.w), c = (int)g.c, pTiles = (hw + 31) / 32, cTiles = c / 32;
        const int p0 = t % pTiles * 32, c0 = t / pTiles % cTiles * 32, image = t / (pTiles * cTiles);
        const int tx = tid & 31, ty = tid >> 5;
        const float* src = x + (i64)image * c * hw;
#pragma unroll
        for (int i = ty; i < 32; i += 8) {
            const int p = p0 + tx;
            if (p < hw) tile[i][tx] = src[(c0 + i) * hw + p];
        }
        __syncthreads();
        const int p = tid >> 3, q = tid & 7;
        if (p0 + p < hw) {
            const float4 v = make_float4(wg_tf32(tile[4 * q][p]), wg_tf32(tile[4 * q + 1][p]), wg_tf32(tile[4 * q + 2][p]),
                                         wg_tf32(tile[4 * q + 3][p]));
            *(float4*)(xn + ((i64)image * hw + p0 + p) * c + c0 + 4 * q) = v;
        }
    }
}

// Pixels of a block tile, and threads of a block (two warpgroups).
#define WG_BM 128
#define WG_THREADS 256

// The tensor-core code exists only where NVRTC compiles for sm_90a (Hopper's arch-specific features).
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// 16 bytes from `source` to shared address `destination`, or 16 zero bytes when !valid (then
// nothing is read).
static __device__ __forceinline__ void wg_copy16(unsigned destination, const float* source, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(destination), "l"(source),
                 "r"(valid ? 16 : 0));
}

// The descriptor of a K-major, 128-byte-swizzled operand whose rows are 128 bytes and whose
// 8-row groups lie 1024 bytes apart, starting at shared address `address` (the tile's base is
// 1024-byte aligned; a start 32·q bytes in selects k [8q, 8q + 8)).
static __device__ __forceinline__ unsigned long long wg_descriptor(unsigned address) {
    return (unsigned long long)((address & 0x3FFFF) >> 4) | (1ull << 16) | ((unsigned long long)(1024 >> 4) << 32) |
           (1ull << 62);
}

// D (64 × N, fp32, in registers) += A (64 × 8, descriptor a) · B (8 × N, descriptor b), both TF32
// and K-major in shared memory; scale-d = 1 (accumulate), no negation. Inline assembly names every
// accumulator register, so the operand lists are written out: N/2 floats a thread.
static __device__ __forceinline__ void wg_mma_n64(float (&d)[32], unsigned long long a, unsigned long long b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k8.f32.tf32.tf32 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
        "}, %32, %33, p, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(a), "l"(b));
}

static __device__ __forceinline__ void wg_mma_n128(float (&d)[64], unsigned long long a, unsigned long long b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k8.f32.tf32.tf32 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
        "}, %64, %65, p, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(a), "l"(b));
}

static __device__ __forceinline__ void wg_mma_n256(float (&d)[128], unsigned long long a, unsigned long long b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k8.f32.tf32.tf32 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
        "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
        "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
        "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
        "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
        "}, %128, %129, p, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
          "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
          "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
          "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
          "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
          "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "l"(a), "l"(b));
}

template <int BN>
static __device__ __forceinline__ void wg_mma(float (&d)[BN / 2], unsigned long long a, unsigned long long b);
template <> __device__ __forceinline__ void wg_mma<64>(float (&d)[32], unsigned long long a, unsigned long long b) { wg_mma_n64(d, a, b); }
template <> __device__ __forceinline__ void wg_mma<128>(float (&d)[64], unsigned long long a, unsigned long long b) { wg_mma_n128(d, a, b); }
template <> __device__ __forceinline__ void wg_mma<256>(float (&d)[128], unsigned long long a, unsigned long long b) { wg_mma_n256(d, a, b); }

template <int BN>
static __device__ __forceinline__ void wg_fence_accumulators(float (&d)[BN / 2]) {
#pragma unroll
    for (int i = 0; i < BN / 2; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

// One block: output tile of pixels [m0, m0 + 128) × channels [n0, n0 + BN), over the K slices
// of split blockIdx.y of gridDim.y. xn: the input as [img][h][w][C] (TF32); wp: the packed weight
// [nPad][K] (TF32); y: the output, NCHW. With one split the block stores its sums; with two, each
// adds its half to y (zeroed before) with an atomic add: a + b = b + a, so the result is the same
// whichever half lands first. Split 0 adds the bias.
//
// Pipeline: STAGES slices in shared memory; the block copies slice kt + STAGES − 1 − WAIT while
// the tensor cores work on slice kt, and keeps WAIT groups of wgmma in flight across the barrier.
template <int BN, int STAGES, int WAIT>
static __device__ __forceinline__ void wg_conv(const float* __restrict__ xn, const float* __restrict__ wp,
                                               const float* __restrict__ bias, float* __restrict__ y, const WgGeometry& g,
                                               int nTiles) {
    constexpr int A_BYTES = WG_BM * 128, B_BYTES = BN * 128, STAGE_BYTES = A_BYTES + B_BYTES;
    constexpr int AHEAD = STAGES - 1 - WAIT;  // slices copied ahead of the one being multiplied
    static_assert(AHEAD >= 1, "too few stages for the wgmma groups in flight");
    extern __shared__ __align__(16) unsigned char wg_smem[];
    const unsigned smemBase = (ck_shared_address(wg_smem) + 1023) & ~1023u;

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int C = (int)g.c, H = (int)g.h, W = (int)g.w, N = (int)g.co;
    const int ohw = (int)(g.oh * g.ow), ow = (int)g.ow, M = (int)(g.n * ohw);
    const int K = (int)(g.kh * g.kw) * C, cBlocks = C / 32, kw = (int)g.kw;
    const int dh = (int)g.dh, dw = (int)g.dw;
    const int mTile = blockIdx.x / nTiles, nTile = blockIdx.x - mTile * nTiles;
    const int m0 = mTile * WG_BM, n0 = nTile * BN;
    const int splits = gridDim.y, allTiles = K / 32;
    const int kBegin = (int)((long long)allTiles * blockIdx.y / splits);
    const int kTiles = (int)((long long)allTiles * (blockIdx.y + 1) / splits) - kBegin;

    // Loaders: this thread copies 16-byte chunk `chunk` of rows (tid / 8) + 32·i, into swizzled
    // position chunk ⊕ (row mod 8) (the same for each of its rows).
    const int chunk = tid & 7, row0 = tid >> 3;
    const unsigned swizzled = (unsigned)(row0 * 128 + ((chunk ^ (row0 & 7)) << 4));
    int aOffset[4], aH[4], aW[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int m = m0 + row0 + 32 * i;
        aH[i] = -(1 << 28);
        aW[i] = 0;
        aOffset[i] = 0;
        if (m < M) {
            const int image = m / ohw, p = m - image * ohw, ohh = p / ow, oww = p - ohh * ow;
            aH[i] = ohh * (int)g.sh - (int)g.pt;
            aW[i] = oww * (int)g.sw - (int)g.pl;
            aOffset[i] = ((image * H + aH[i]) * W + aW[i]) * C + 4 * chunk;
        }
    }
    const float* bSource = wp + (i64)(n0 + row0) * K + 4 * chunk;

    auto loadStage = [&](int stage, int kt) {
        const int tap = kt / cBlocks, cb = kt - tap * cBlocks, th = tap / kw, tw = tap - th * kw;
        const int dy = th * dh, dx = tw * dw, delta = (dy * W + dx) * C + cb * 32;
        const unsigned a = smemBase + stage * STAGE_BYTES + swizzled;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const bool valid = (unsigned)(aH[i] + dy) < (unsigned)H && (unsigned)(aW[i] + dx) < (unsigned)W;
            wg_copy16(a + i * 32 * 128, valid ? xn + (aOffset[i] + delta) : xn, valid);
        }
        const unsigned b = a + A_BYTES;
#pragma unroll
        for (int i = 0; i < BN / 32; ++i) wg_copy16(b + i * 32 * 128, bSource + (i64)(32 * i) * K + kt * 32, true);
    };

    float acc[BN / 2];
#pragma unroll
    for (int i = 0; i < BN / 2; ++i) acc[i] = 0.0f;

#pragma unroll
    for (int s = 0; s < AHEAD; ++s) {
        if (s < kTiles) loadStage(s, kBegin + s);
        ck_cp_async_commit();
    }
    const int group = warp >> 2;  // warpgroup: pixels [64·group, 64·group + 64) of the tile
    for (int kt = 0; kt < kTiles; ++kt) {
        // Slice kt has landed; after the barrier every warpgroup is done with slice kt − 1 − WAIT,
        // whose stage takes slice kt + AHEAD.
        ck_cp_async_wait<AHEAD - 1>();
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncthreads();
        const int next = kt + AHEAD;
        if (next < kTiles) loadStage(next % STAGES, kBegin + next);
        ck_cp_async_commit();

        const unsigned a = smemBase + (kt % STAGES) * STAGE_BYTES + group * 64 * 128;
        const unsigned b = smemBase + (kt % STAGES) * STAGE_BYTES + A_BYTES;
        wg_fence_accumulators<BN>(acc);
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
        for (int q = 0; q < 4; ++q) wg_mma<BN>(acc, wg_descriptor(a + 32 * q), wg_descriptor(b + 32 * q));
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(WAIT) : "memory");
        wg_fence_accumulators<BN>(acc);
    }
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    wg_fence_accumulators<BN>(acc);
    ck_cp_async_wait<0>();

    // Accumulator 4·i + 2·half + e: pixel 64·group + 16·(warp mod 4) + lane/4 + 8·half, channel
    // 8·i + 2·(lane mod 4) + e; plus the channel's bias when there is one.
    const int gq = lane >> 2, tq = lane & 3;
    const bool addBias = bias && blockIdx.y == 0;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        const int m = m0 + group * 64 + (warp & 3) * 16 + gq + 8 * half;
        if (m >= M) continue;
        const int image = m / ohw, p = m - image * ohw;
        float* yPixel = y + (i64)image * N * ohw + p;
#pragma unroll
        for (int i = 0; i < BN / 8; ++i) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int n = n0 + 8 * i + 2 * tq + e;
                if (n < N) {
                    const float v = acc[4 * i + 2 * half + e] + (addBias ? __ldg(bias + n) : 0.0f);
                    if (splits == 1) yPixel[(i64)n * ohw] = v;
                    else atomicAdd(yPixel + (i64)n * ohw, v);
                }
            }
        }
    }
}

#endif

// Grid: x over (128-pixel tile, BN-channel tile), channel tiles fastest, y over the splits of K
// (1 or 2; with 2, y zeroed first); block 256 threads; dynamic shared memory STAGES · (128 + BN)
// · 128 + 1024 bytes. `bias` may be null. Needs groups = 1, C a multiple of 32, and every offset
// in 32 bits.
#define WG_KERNEL(NAME, BN, STAGES, WAIT, BLOCKS)                                                                    \
    extern "C" __global__ void __launch_bounds__(WG_THREADS, BLOCKS)                                                 \
        NAME(const float* __restrict__ xn, const float* __restrict__ wp, const float* __restrict__ bias,             \
             float* __restrict__ y, WgGeometry g, i64 nTiles) {                                                      \
        WG_BODY(BN, STAGES, WAIT)                                                                                    \
    }
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define WG_BODY(BN, STAGES, WAIT) wg_conv<BN, STAGES, WAIT>(xn, wp, bias, y, g, (int)nTiles);
#else
#define WG_BODY(BN, STAGES, WAIT)
#endif

// The kept variants (scripts/kernel_lab/wgmma_lab.cu, H200, 2026-12-04): 64 and 256 channels with
// 4 stages and one wgmma group in flight, 128 channels with 3 stages (two blocks an SM).
WG_KERNEL(ck_wg_conv_tf32_n64, 64, 4, 1, 2)
WG_KERNEL(ck_wg_conv_tf32_n128, 128, 3, 0, 2)
WG_KERNEL(ck_wg_conv_tf32_n256, 256, 4, 1, 1)
