// Implicit-GEMM convolution: each pass is a GEMM whose X̂ operand (im2col) never exists in
// memory; its tiles are gathered straight into shared memory as they are loaded, padding taps
// read as zero (predication). Per group (all images at once):
//   forward:         Y[co, (img,oh,ow)]  = Σ_(c,kh,kw) W[co, (c,kh,kw)] · X̂[(c,kh,kw), (img,oh,ow)]
//   input gradient:  dX[ci, (img,ih,iw)] = Σ_(co,kh,kw) W[co, ci, kh, kw] · dŶ[(co,kh,kw), (img,ih,iw)]
//                    where dŶ reads dY at oh = (ih + padTop − kh·dil) / stride when that divides
//   weight gradient: dW[co, (c,kh,kw)]   = Σ_(img,oh,ow) dY[co, (img,oh,ow)] · X̂[(c,kh,kw), (img,oh,ow)]
//                    (deterministic split over the pixels: fixed partial sums, reduced in order)
// One design for all three: 64×64 output tiles, 16-deep reduction slices, 256 threads, each
// thread a 4×4 register micro-tile (rows ty + 16·i, columns tx + 16·j). Every block loops over
// its tiles (grid-stride in x and y), so any grid size is correct.
#include "Common.cuh"

// The convolution's sizes, as Swift passes them (16 long longs, see `Conv2dGeometry.algorithmKernelArgument`).
struct IgGeometry {
    i64 n, c, h, w, co, kh, kw, sh, sw, pt, pl, dh, dw, groups, oh, ow;
};

#define IG_TILE 64
#define IG_DEPTH 16
#define IG_THREADS 256
// Padding of the A tile's rows, against bank conflicts when it is stored transposed.
#define IG_APAD 4

// The 16-deep slice product shared by the three kernels: acc[i][j] += Σ_kk A[kk][ty+16i]·B[kk][tx+16j].
static __device__ __forceinline__ void ig_multiply_slice(const float (*As)[IG_TILE + IG_APAD], const float (*Bs)[IG_TILE],
                                                         int tx, int ty, float acc[4][4]) {
#pragma unroll
    for (int kk = 0; kk < IG_DEPTH; ++kk) {
        float a[4], b[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) a[i] = As[kk][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < 4; ++j) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
}

// Forward. M = outChannels/groups, N = n·outH·outW, K = (C/groups)·kH·kW.
// Grid: x over N tiles, y over (group, M tile); both grid-stride.
extern "C" __global__ void __launch_bounds__(IG_THREADS)
ck_igemm_forward(const float* __restrict__ x, const float* __restrict__ weight, float* __restrict__ y, IgGeometry g) {
    __shared__ float As[IG_DEPTH][IG_TILE + IG_APAD];
    __shared__ float Bs[IG_DEPTH][IG_TILE];
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const i64 cg = g.c / g.groups, mg = g.co / g.groups;
    const i64 taps = g.kh * g.kw, K = cg * taps;
    const i64 ohw = g.oh * g.ow, N = g.n * ohw, inPlane = g.h * g.w;
    const i64 mTiles = (mg + IG_TILE - 1) / IG_TILE, nTiles = (N + IG_TILE - 1) / IG_TILE;
    // A loader: element (m = (tid>>4) + 16r, k = tid&15); B loader: element (k = (tid>>6) + 4r, column tid&63).
    const int ak = tid & 15, am = tid >> 4;
    const int bk = tid >> 6, bj = tid & 63;
    for (i64 yt = blockIdx.y; yt < mTiles * g.groups; yt += gridDim.y) {
        const i64 group = yt / mTiles, m0 = (yt - group * mTiles) * IG_TILE;
        const float* wGroup = weight + group * mg * K;
        for (i64 nt = blockIdx.x; nt < nTiles; nt += gridDim.x) {
            const i64 n0 = nt * IG_TILE;
            // This thread's B column: one output pixel, decoded once per tile.
            const i64 j = n0 + bj;
            const bool columnValid = j < N;
            i64 image = 0, ohh = 0, oww = 0;
            if (columnValid) {
                image = j / ohw;
                const i64 p = j - image * ohw;
                ohh = p / g.ow;
                oww = p - ohh * g.ow;
            }
            const i64 ih0 = ohh * g.sh - g.pt, iw0 = oww * g.sw - g.pl;
            const float* xImage = x + (image * g.c + group * cg) * inPlane;

            float acc[4][4];
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int jj = 0; jj < 4; ++jj) acc[i][jj] = 0.0f;

            for (i64 k0 = 0; k0 < K; k0 += IG_DEPTH) {
#pragma unroll
                for (int r = 0; r < 4; ++r) {
                    const int m = am + 16 * r;
                    const i64 row = m0 + m, k = k0 + ak;
                    As[ak][m] = (row < mg && k < K) ? wGroup[row * K + k] : 0.0f;
                }
#pragma unroll
                for (int r = 0; r < 4; ++r) {
                    const int kk = bk + 4 * r;
                    const i64 k = k0 + kk;
                    float v = 0.0f;
                    if (columnValid && k < K) {
                        const i64 c = k / taps, t = k - c * taps;
                        const i64 khh = t / g.kw, kww = t - khh * g.kw;
                        const i64 ih = ih0 + khh * g.dh, iw = iw0 + kww * g.dw;
                        if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) v = xImage[c * inPlane + ih * g.w + iw];
                    }
                    Bs[kk][bj] = v;
                }
                __syncthreads();
                ig_multiply_slice(As, Bs, tx, ty, acc);
                __syncthreads();
            }
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const i64 row = m0 + ty + 16 * i;
                if (row >= mg) continue;
#pragma unroll
                for (int jj = 0; jj < 4; ++jj) {
                    const i64 column = n0 + tx + 16 * jj;
                    if (column >= N) continue;
                    const i64 im = column / ohw, p = column - im * ohw;
                    y[(im * g.co + group * mg + row) * ohw + p] = acc[i][jj];
                }
            }
        }
    }
}

// Input gradient. M = C/groups, N = n·H·W, K = (outChannels/groups)·kH·kW with k = (co, kh, kw).
// Grid: x over N tiles, y over (group, M tile); both grid-stride.
extern "C" __global__ void __launch_bounds__(IG_THREADS)
ck_igemm_backward_input(const float* __restrict__ dy, const float* __restrict__ weight, float* __restrict__ dx,
                        IgGeometry g) {
    __shared__ float As[IG_DEPTH][IG_TILE + IG_APAD];
    __shared__ float Bs[IG_DEPTH][IG_TILE];
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const i64 cg = g.c / g.groups, mg = g.co / g.groups;
    const i64 taps = g.kh * g.kw, K = mg * taps;
    const i64 ohw = g.oh * g.ow, inPlane = g.h * g.w, N = g.n * inPlane;
    const i64 mTiles = (cg + IG_TILE - 1) / IG_TILE, nTiles = (N + IG_TILE - 1) / IG_TILE;
    const int ak = tid & 15, am = tid >> 4;
    const int bk = tid >> 6, bj = tid & 63;
    for (i64 yt = blockIdx.y; yt < mTiles * g.groups; yt += gridDim.y) {
        const i64 group = yt / mTiles, m0 = (yt - group * mTiles) * IG_TILE;
        const float* wGroup = weight + group * mg * cg * taps;
        for (i64 nt = blockIdx.x; nt < nTiles; nt += gridDim.x) {
            const i64 n0 = nt * IG_TILE;
            // This thread's B column: one input pixel.
            const i64 j = n0 + bj;
            const bool columnValid = j < N;
            i64 image = 0, ihh = 0, iww = 0;
            if (columnValid) {
                image = j / inPlane;
                const i64 p = j - image * inPlane;
                ihh = p / g.w;
                iww = p - ihh * g.w;
            }
            const i64 rowBase = ihh + g.pt, columnBase = iww + g.pl;
            const float* dyGroup = dy + (image * g.co + group * mg) * ohw;

            float acc[4][4];
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int jj = 0; jj < 4; ++jj) acc[i][jj] = 0.0f;

            for (i64 k0 = 0; k0 < K; k0 += IG_DEPTH) {
#pragma unroll
                for (int r = 0; r < 4; ++r) {
                    const int m = am + 16 * r;
                    const i64 ci = m0 + m, k = k0 + ak;
                    float v = 0.0f;
                    if (ci < cg && k < K) {
                        const i64 co = k / taps, t = k - co * taps;
                        v = wGroup[(co * cg + ci) * taps + t];
                    }
                    As[ak][m] = v;
                }
#pragma unroll
                for (int r = 0; r < 4; ++r) {
                    const int kk = bk + 4 * r;
                    const i64 k = k0 + kk;
                    float v = 0.0f;
                    if (columnValid && k < K) {
                        const i64 co = k / taps, t = k - co * taps;
                        const i64 khh = t / g.kw, kww = t - khh * g.kw;
                        const i64 hs = rowBase - khh * g.dh, ws = columnBase - kww * g.dw;
                        if (hs >= 0 && ws >= 0) {
                            const i64 ohh = hs / g.sh, oww = ws / g.sw;
                            if (ohh * g.sh == hs && oww * g.sw == ws && ohh < g.oh && oww < g.ow)
                                v = dyGroup[co * ohw + ohh * g.ow + oww];
                        }
                    }
                    Bs[kk][bj] = v;
                }
                __syncthreads();
                ig_multiply_slice(As, Bs, tx, ty, acc);
                __syncthreads();
            }
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const i64 ci = m0 + ty + 16 * i;
                if (ci >= cg) continue;
#pragma unroll
                for (int jj = 0; jj < 4; ++jj) {
                    const i64 column = n0 + tx + 16 * jj;
                    if (column >= N) continue;
                    const i64 im = column / inPlane, p = column - im * inPlane;
                    dx[(im * g.c + group * cg + ci) * inPlane + p] = acc[i][jj];
                }
            }
        }
    }
}

// Weight gradient. M = outChannels/groups, N = (C/groups)·kH·kW, reduction over the pixels
// (img, oh, ow). Split z of gridDim.z covers pixels [z·chunk, min(P, (z+1)·chunk)) and writes its
// partial dW to out + z·splitStride (with one split, out is dW itself). chunk is a multiple of 16.
// Grid: x over N tiles, y over (group, M tile) (both grid-stride), z over splits (exact).
extern "C" __global__ void __launch_bounds__(IG_THREADS)
ck_igemm_backward_weight(const float* __restrict__ dy, const float* __restrict__ x, float* __restrict__ out,
                         IgGeometry g, i64 chunk, i64 splitStride) {
    __shared__ float As[IG_DEPTH][IG_TILE + IG_APAD];
    __shared__ float Bs[IG_DEPTH][IG_TILE];
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const i64 cg = g.c / g.groups, mg = g.co / g.groups;
    const i64 taps = g.kh * g.kw, K = cg * taps;
    const i64 ohw = g.oh * g.ow, P = g.n * ohw, inPlane = g.h * g.w;
    const i64 mTiles = (mg + IG_TILE - 1) / IG_TILE, nTiles = (K + IG_TILE - 1) / IG_TILE;
    const i64 p0 = (i64)blockIdx.z * chunk;
    const i64 p1 = p0 + chunk < P ? p0 + chunk : P;
    float* dst = out + (i64)blockIdx.z * splitStride;
    // Both loaders: pixel jj = tid & 15 of the slice; A row (tid>>4) + 16r, B column (tid>>4) + 16r.
    const int jj = tid & 15, lane4 = tid >> 4;
    for (i64 yt = blockIdx.y; yt < mTiles * g.groups; yt += gridDim.y) {
        const i64 group = yt / mTiles, m0 = (yt - group * mTiles) * IG_TILE;
        for (i64 nt = blockIdx.x; nt < nTiles; nt += gridDim.x) {
            const i64 n0 = nt * IG_TILE;
            // The four X̂ rows (c, kh, kw) this thread loads do not change along the reduction.
            i64 planeOffset[4], rowOffset[4], columnOffset[4];
            bool kValid[4];
#pragma unroll
            for (int r = 0; r < 4; ++r) {
                const i64 k = n0 + lane4 + 16 * r;
                kValid[r] = k < K;
                const i64 kk = kValid[r] ? k : 0;
                const i64 c = kk / taps, t = kk - c * taps;
                const i64 khh = t / g.kw, kww = t - khh * g.kw;
                planeOffset[r] = c * inPlane;
                rowOffset[r] = khh * g.dh - g.pt;
                columnOffset[r] = kww * g.dw - g.pl;
            }

            float acc[4][4];
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

            for (i64 q0 = p0; q0 < p1; q0 += IG_DEPTH) {
                const i64 q = q0 + jj;
                const bool pixelValid = q < p1;
                i64 image = 0, ohh = 0, oww = 0, p = 0;
                if (pixelValid) {
                    image = q / ohw;
                    p = q - image * ohw;
                    ohh = p / g.ow;
                    oww = p - ohh * g.ow;
                }
                const float* dyRow = dy + (image * g.co + group * mg) * ohw + p;
                const float* xImage = x + (image * g.c + group * cg) * inPlane;
#pragma unroll
                for (int r = 0; r < 4; ++r) {
                    const int m = lane4 + 16 * r;
                    const i64 co = m0 + m;
                    As[jj][m] = (pixelValid && co < mg) ? dyRow[co * ohw] : 0.0f;
                }
#pragma unroll
                for (int r = 0; r < 4; ++r) {
                    float v = 0.0f;
                    if (pixelValid && kValid[r]) {
                        const i64 ih = ohh * g.sh + rowOffset[r], iw = oww * g.sw + columnOffset[r];
                        if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) v = xImage[planeOffset[r] + ih * g.w + iw];
                    }
                    Bs[jj][lane4 + 16 * r] = v;
                }
                __syncthreads();
                ig_multiply_slice(As, Bs, tx, ty, acc);
                __syncthreads();
            }
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const i64 co = m0 + ty + 16 * i;
                if (co >= mg) continue;
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const i64 k = n0 + tx + 16 * j;
                    if (k >= K) continue;
                    dst[(group * mg + co) * K + k] = acc[i][j];
                }
            }
        }
    }
}

// dW[i] = Σ_s partials[s·count + i] for s = 0, 1, …, splits−1 in that order (Float64), so the
// split weight gradient is reproducible.
extern "C" __global__ void ck_igemm_sum_splits(const float* __restrict__ partials, float* __restrict__ dw, i64 count,
                                              i64 splits) {
    CK_LOOP(i, count) {
        double sum = 0.0;
        for (i64 s = 0; s < splits; ++s) sum += (double)partials[s * count + i];
        dw[i] = (float)sum;
    }
}
