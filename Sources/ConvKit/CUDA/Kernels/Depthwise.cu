// Depthwise convolution (groups == input channels): output channel oc reads input channel
// oc / multiplier (multiplier = outChannels / inChannels) through its own kH×kW filter, weight
// [outChannels, 1, kH, kW]. The same sums in the same order as the CPU's DepthwiseConv:
//   forward:         one thread per output element, taps in (kh, kw) order;
//   input gradient:  one thread per input element, a gather over (kh, m, kw);
//   weight gradient: one block per (output channel, tap), a fixed-order block reduction in Float64.
#include "Common.cuh"

// The convolution's sizes, as Swift passes them (16 long longs, see `Conv2dGeometry.algorithmKernelArgument`).
struct DwGeometry {
    i64 n, c, h, w, co, kh, kw, sh, sw, pt, pl, dh, dw, groups, oh, ow;
};

// The outputs o in [lo, hi) whose input o·stride + offset lies in [0, inSize) (ConvIndexing.validOutputs).
static __device__ __forceinline__ void dw_valid_outputs(i64 offset, i64 stride, i64 inSize, i64 outSize,
                                                        i64* lo, i64* hi) {
    const i64 first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    const i64 last = inSize - 1 - offset;
    i64 end = last < 0 ? 0 : last / stride + 1;
    if (end > outSize) end = outSize;
    *lo = first;
    *hi = first < end ? end : first;
}

// output[img, oc, oh, ow] = Σ_(kh,kw) w[oc, kh, kw] · x[img, oc/multiplier, oh·sh − pt + kh·dh, ow·sw − pl + kw·dw].
extern "C" __global__ void ck_dw_forward(const float* __restrict__ x, const float* __restrict__ weight,
                                         float* __restrict__ y, DwGeometry g) {
    const i64 multiplier = g.co / g.c;
    const i64 total = g.n * g.co * g.oh * g.ow;
    CK_LOOP(i, total) {
        const i64 ow = i % g.ow;
        i64 t = i / g.ow;
        const i64 oh = t % g.oh;
        t /= g.oh;
        const i64 oc = t % g.co, image = t / g.co;
        const float* plane = x + (image * g.c + oc / multiplier) * g.h * g.w;
        const float* taps = weight + oc * g.kh * g.kw;
        const i64 ih0 = oh * g.sh - g.pt, iw0 = ow * g.sw - g.pl;
        float sum = 0.0f;
        for (i64 ky = 0; ky < g.kh; ++ky) {
            const i64 ih = ih0 + ky * g.dh;
            if (ih < 0 || ih >= g.h) continue;
            const float* row = plane + ih * g.w;
            for (i64 kx = 0; kx < g.kw; ++kx) {
                const i64 iw = iw0 + kx * g.dw;
                if (iw < 0 || iw >= g.w) continue;
                sum += taps[ky * g.kw + kx] * row[iw];
            }
        }
        y[i] = sum;
    }
}

// gradInput[img, c, ih, iw] = Σ_kh Σ_m Σ_kw w[oc, kh, kw] · dy[img, oc, oh, ow] with oc = c·multiplier + m,
// over the (oh, ow) that read (ih, iw): oh = (ih + pt − kh·dh) / sh when that divides and is in range.
extern "C" __global__ void ck_dw_backward_input(const float* __restrict__ dy, const float* __restrict__ weight,
                                                float* __restrict__ dx, DwGeometry g) {
    const i64 multiplier = g.co / g.c;
    const i64 total = g.n * g.c * g.h * g.w;
    const i64 ohw = g.oh * g.ow;
    CK_LOOP(i, total) {
        const i64 iw = i % g.w;
        i64 t = i / g.w;
        const i64 ih = t % g.h;
        t /= g.h;
        const i64 c = t % g.c, image = t / g.c;
        float sum = 0.0f;
        for (i64 ky = 0; ky < g.kh; ++ky) {
            const i64 hs = ih + g.pt - ky * g.dh;
            if (hs < 0) continue;
            const i64 oh = hs / g.sh;
            if (oh * g.sh != hs || oh >= g.oh) continue;
            for (i64 m = 0; m < multiplier; ++m) {
                const i64 oc = c * multiplier + m;
                const float* dyRow = dy + (image * g.co + oc) * ohw + oh * g.ow;
                const float* taps = weight + (oc * g.kh + ky) * g.kw;
                for (i64 kx = 0; kx < g.kw; ++kx) {
                    const i64 ws = iw + g.pl - kx * g.dw;
                    if (ws < 0) continue;
                    const i64 ow = ws / g.sw;
                    if (ow * g.sw != ws || ow >= g.ow) continue;
                    sum += taps[kx] * dyRow[ow];
                }
            }
        }
        dx[i] = sum;
    }
}

// gradWeight[oc, kh, kw] = Σ_img Σ_(oh,ow) dy[img, oc, oh, ow] · x[img, oc/multiplier, oh·sh − pt + kh·dh, ow·sw − pl + kw·dw]
// over the positions that read inside the input. One block (blockDim.x = 256) per (oc, tap),
// grid-stride over them; each thread sums a fixed subset in Float64, then a fixed block reduction.
extern "C" __global__ void __launch_bounds__(256)
ck_dw_backward_weight(const float* __restrict__ dy, const float* __restrict__ x, float* __restrict__ dweight,
                      DwGeometry g) {
    __shared__ double scratch[32];
    const i64 multiplier = g.co / g.c;
    const i64 taps = g.kh * g.kw, ohw = g.oh * g.ow, inPlane = g.h * g.w;
    for (i64 item = blockIdx.x; item < g.co * taps; item += gridDim.x) {
        const i64 oc = item / taps, t = item - oc * taps;
        const i64 ky = t / g.kw, kx = t - ky * g.kw;
        const i64 c = oc / multiplier;
        const i64 offsetY = ky * g.dh - g.pt, offsetX = kx * g.dw - g.pl;
        i64 rowLo, rowHi, colLo, colHi;
        dw_valid_outputs(offsetY, g.sh, g.h, g.oh, &rowLo, &rowHi);
        dw_valid_outputs(offsetX, g.sw, g.w, g.ow, &colLo, &colHi);
        const i64 columns = colHi - colLo, perImage = (rowHi - rowLo) * columns;
        double sum = 0.0;
        for (i64 e = threadIdx.x; e < g.n * perImage; e += blockDim.x) {
            const i64 image = e / perImage, r = e - image * perImage;
            const i64 yo = rowLo + r / columns, xo = colLo + r % columns;
            const float d = dy[(image * g.co + oc) * ohw + yo * g.ow + xo];
            const float v = x[(image * g.c + c) * inPlane + (yo * g.sh + offsetY) * g.w + xo * g.sw + offsetX];
            sum += (double)(d * v);
        }
        sum = ck_block_sum_double(sum, scratch);
        if (threadIdx.x == 0) dweight[item] = (float)sum;
    }
}

// ---------------------------------------------------------------------------------------------
// Fast paths for 3×3 filters, dilation 1, stride 1 or 2, with 32-bit indices (the launcher takes
// them only when every tensor has fewer than 2^31 elements). A thread owns one output column and
// DW_ROWS consecutive output rows: it walks the input rows those outputs read once, loading the
// three columns it needs (neighbouring threads read neighbouring columns, so loads coalesce and
// the overlaps hit L1), and accumulates into registers. Taps outside the input are skipped, not
// multiplied by zero, as on the CPU (an inf weight or gradient times padding must not give NaN).

#define DW_ROWS 8

// One input row `r` (counted from the strip's first input row) of a column strip: adds its three
// columns (those inside the input, per colOk) times the filter row ky into output row (r − ky) / S
// of the strip, for each ky whose output row is in the strip, ky and kx ascending.
template <int S, int ROWS>
static __device__ __forceinline__ void dw3x3_add_row(int r, const float* __restrict__ row, const bool (&colOk)[3],
                                                     const float (&w)[9], float (&acc)[ROWS]) {
    float v[3];
#pragma unroll
    for (int kx = 0; kx < 3; ++kx) v[kx] = colOk[kx] ? row[kx] : 0.0f;
#pragma unroll
    for (int ky = 0; ky < 3; ++ky) {
        const int d = r - ky;
        if (d < 0 || d % S != 0 || d / S >= ROWS) continue;
#pragma unroll
        for (int kx = 0; kx < 3; ++kx) {
            if (colOk[kx]) acc[d / S] += w[ky * 3 + kx] * v[kx];
        }
    }
}

// out[p = (image, q), oh, ow] = Σ_m Σ_(ky,kx) w'[wi, ky, kx] · in[image, wi / div, oh·S − padT + ky, ow·S − padL + kx]
// with wi = q·fan + m and w' the filter (FLIP: rotated by 180°). Forward: fan 1, div = multiplier.
// Input gradient (stride 1): in = dy, out = dx, fan = multiplier, div 1, padding 2 − padding, FLIP.
template <int S, bool FLIP>
static __device__ __forceinline__ void dw3x3_rows(const float* __restrict__ in, const float* __restrict__ weight,
                                                  float* __restrict__ out, int planes, int outC, int inC, int inH,
                                                  int inW, int outH, int outW, int padT, int padL, int fan, int div) {
    const int rowBlocks = (outH + DW_ROWS - 1) / DW_ROWS;
    const int items = planes * rowBlocks * outW;
    for (int item = blockIdx.x * blockDim.x + threadIdx.x; item < items; item += blockDim.x * gridDim.x) {
        const int ow = item % outW;
        const int t = item / outW;
        const int rb = t % rowBlocks, p = t / rowBlocks;
        const int q = p % outC, image = p / outC;
        const int oh0 = rb * DW_ROWS, ih0 = oh0 * S - padT, iw0 = ow * S - padL;
        bool colOk[3];
#pragma unroll
        for (int kx = 0; kx < 3; ++kx) colOk[kx] = (unsigned)(iw0 + kx) < (unsigned)inW;
        float acc[DW_ROWS];
#pragma unroll
        for (int j = 0; j < DW_ROWS; ++j) acc[j] = 0.0f;
        for (int m = 0; m < fan; ++m) {
            const int wi = q * fan + m;
            const float* plane = in + (image * inC + wi / div) * inH * inW;
            float w[9];
#pragma unroll
            for (int k = 0; k < 9; ++k) w[k] = __ldg(weight + wi * 9 + (FLIP ? 8 - k : k));
#pragma unroll
            for (int r = 0; r < (DW_ROWS - 1) * S + 3; ++r) {
                const int ih = ih0 + r;
                if ((unsigned)ih >= (unsigned)inH) continue;
                const float* row = plane + ih * inW + iw0;
                dw3x3_add_row<S, DW_ROWS>(r, row, colOk, w, acc);
            }
        }
        float* column = out + (p * outH + oh0) * outW + ow;
#pragma unroll
        for (int j = 0; j < DW_ROWS; ++j) {
            if (oh0 + j < outH) column[j * outW] = acc[j];
        }
    }
}

// Forward, 3×3, stride S (1 or 2), any channel multiplier.
#define DW_FORWARD_KERNEL(S)                                                                                       \
    extern "C" __global__ void __launch_bounds__(256) ck_dw3x3_forward_s##S(                                      \
        const float* __restrict__ x, const float* __restrict__ weight, float* __restrict__ y, DwGeometry g) {      \
        dw3x3_rows<S, false>(x, weight, y, (int)(g.n * g.co), (int)g.co, (int)g.c, (int)g.h, (int)g.w, (int)g.oh,  \
                             (int)g.ow, (int)g.pt, (int)g.pl, 1, (int)(g.co / g.c));                              \
    }
DW_FORWARD_KERNEL(1)
DW_FORWARD_KERNEL(2)

// Input gradient, 3×3, stride 1: the stride-1 correlation of dy with the rotated filters, summed
// over the channel multiplier.
extern "C" __global__ void __launch_bounds__(256) ck_dw3x3_backward_input_s1(
    const float* __restrict__ dy, const float* __restrict__ weight, float* __restrict__ dx, DwGeometry g) {
    dw3x3_rows<1, true>(dy, weight, dx, (int)(g.n * g.c), (int)g.c, (int)g.co, (int)g.oh, (int)g.ow, (int)g.h,
                        (int)g.w, 2 - (int)g.pt, 2 - (int)g.pl, (int)(g.co / g.c), 1);
}

// Input gradient, 3×3, stride 2. Input (ih, iw) is read by the taps with ih + padT − kh and
// iw + padL − kw even: with c = ⌊(iw + padL) / 2⌋, an even iw + padL by kw = 0 (output column c)
// and kw = 2 (c − 1), an odd one by kw = 1 (c). A thread owns one input column and DW_ROWS input
// rows ih0 … ih0 + 7, ih0 + padT even, so row j of its strip meets output row ⌊(ih0 + padT)/2⌋ − 1
// + r through tap kh = j + 2 − 2r: it walks the 5 output rows once, two loads each. Threads run
// over (plane, row strip, column parity, column), columns fastest: a warp shares its taps and
// reads consecutive output columns. Taps outside the output are skipped, not multiplied by zero.
extern "C" __global__ void __launch_bounds__(256) ck_dw3x3_backward_input_s2(
    const float* __restrict__ dy, const float* __restrict__ weight, float* __restrict__ dx, DwGeometry g) {
    const int C = (int)g.c, H = (int)g.h, W = (int)g.w, OH = (int)g.oh, OW = (int)g.ow;
    const int padT = (int)g.pt, padL = (int)g.pl, fan = (int)(g.co / g.c);
    const int shift = padT & 1;  // ih0 = DW_ROWS·strip − shift
    const int rowBlocks = (H + shift + DW_ROWS - 1) / DW_ROWS, halfW = (W + 1) / 2;
    const int items = (int)g.n * C * rowBlocks * 2 * halfW;
    for (int item = blockIdx.x * blockDim.x + threadIdx.x; item < items; item += blockDim.x * gridDim.x) {
        const int k = item % halfW;
        int t = item / halfW;
        const int parity = t % 2;  // of iw + padL
        t /= 2;
        const int rb = t % rowBlocks, plane = t / rowBlocks;
        const int iw = 2 * k + ((parity + padL) & 1);
        if (iw >= W) continue;
        const int ch = plane % C, image = plane / C;
        const int ih0 = rb * DW_ROWS - shift, ohBase = (ih0 + padT) / 2 - 1;
        const int c = (iw + padL - parity) / 2;
        const bool centreOk = c < OW, leftOk = parity == 0 && c >= 1 && c - 1 < OW;
        float acc[DW_ROWS];
#pragma unroll
        for (int j = 0; j < DW_ROWS; ++j) acc[j] = 0.0f;
        for (int m = 0; m < fan; ++m) {
            const int oc = ch * fan + m;
            const float* plane0 = dy + (image * (int)g.co + oc) * OH * OW;
            float w[9];
#pragma unroll
            for (int e = 0; e < 9; ++e) w[e] = __ldg(weight + oc * 9 + e);
#pragma unroll
            for (int r = 0; r < DW_ROWS / 2 + 1; ++r) {
                const int oh = ohBase + r;
                if ((unsigned)oh >= (unsigned)OH) continue;
                const float* row = plane0 + oh * OW;
                const float centre = centreOk ? __ldg(row + c) : 0.0f;
                const float left = leftOk ? __ldg(row + c - 1) : 0.0f;
#pragma unroll
                for (int kh = 0; kh < 3; ++kh) {
                    const int j = 2 * r + kh - 2;
                    if (j < 0 || j >= DW_ROWS) continue;
                    if (parity == 0) {
                        if (centreOk) acc[j] += w[kh * 3] * centre;
                        if (leftOk) acc[j] += w[kh * 3 + 2] * left;
                    } else if (centreOk) {
                        acc[j] += w[kh * 3 + 1] * centre;
                    }
                }
            }
        }
        float* column = dx + (i64)plane * H * W + iw;
#pragma unroll
        for (int j = 0; j < DW_ROWS; ++j) {
            const int ih = ih0 + j;
            if ((unsigned)ih < (unsigned)H) column[ih * W] = acc[j];
        }
    }
}

// Weight gradient, 3×3, stride S: block (oc = blockIdx.x, chunk = blockIdx.y) of 256 threads covers
// images [chunk·imagesPerChunk, …) of output channel oc; each thread walks column strips as above
// and accumulates all 9 taps from one read of x and dy; the block then sums each tap in Float64
// (fixed order) into partials[(chunk·co + oc)·9 + tap]. With dweight set (co ≤ DW_ARRIVAL_SLOTS), the
// last block of each channel to finish adds its chunks into dweight (one chunk: written directly);
// with dweight null, ck_dw3x3_weight_reduce adds them afterwards.
#define DW_ARRIVAL_SLOTS 65536

// Finished blocks per output channel of the running weight-gradient launch: zero when the module
// loads, and put back to zero by each channel's last block (launches of one module share a stream,
// so they never overlap).
__device__ unsigned int dw_weight_arrivals[DW_ARRIVAL_SLOTS];

template <int S>
static __device__ __forceinline__ void dw3x3_weight_partials(const float* __restrict__ dy, const float* __restrict__ x,
                                                             double* __restrict__ partials,
                                                             float* __restrict__ dweight, DwGeometry g,
                                                             int imagesPerChunk) {
    __shared__ double scratch[32];
    const int oc = blockIdx.x, chunk = blockIdx.y;
    const int co = (int)g.co, inH = (int)g.h, inW = (int)g.w, outH = (int)g.oh, outW = (int)g.ow;
    const int padT = (int)g.pt, padL = (int)g.pl;
    const int ci = oc / (int)(g.co / g.c);
    const int firstImage = chunk * imagesPerChunk;
    const int images = min(imagesPerChunk, (int)g.n - firstImage);
    const int rowBlocks = (outH + DW_ROWS - 1) / DW_ROWS;
    const int items = images > 0 ? images * rowBlocks * outW : 0;
    float acc[9];
#pragma unroll
    for (int k = 0; k < 9; ++k) acc[k] = 0.0f;
    for (int item = threadIdx.x; item < items; item += blockDim.x) {
        const int ow = item % outW;
        const int t = item / outW;
        const int rb = t % rowBlocks, image = firstImage + t / rowBlocks;
        const int oh0 = rb * DW_ROWS, ih0 = oh0 * S - padT, iw0 = ow * S - padL;
        bool colOk[3];
#pragma unroll
        for (int kx = 0; kx < 3; ++kx) colOk[kx] = (unsigned)(iw0 + kx) < (unsigned)inW;
        const float* dyColumn = dy + ((image * co + oc) * outH + oh0) * outW + ow;
        float d[DW_ROWS];
#pragma unroll
        for (int j = 0; j < DW_ROWS; ++j) d[j] = oh0 + j < outH ? __ldg(dyColumn + j * outW) : 0.0f;
        const float* plane = x + (image * (int)g.c + ci) * inH * inW;
#pragma unroll
        for (int r = 0; r < (DW_ROWS - 1) * S + 3; ++r) {
            const int ih = ih0 + r;
            if ((unsigned)ih >= (unsigned)inH) continue;
            const float* row = plane + ih * inW + iw0;
            float v[3];
#pragma unroll
            for (int kx = 0; kx < 3; ++kx) v[kx] = colOk[kx] ? __ldg(row + kx) : 0.0f;
#pragma unroll
            for (int ky = 0; ky < 3; ++ky) {
                const int dr = r - ky;
                if (dr < 0 || dr % S != 0 || dr / S >= DW_ROWS) continue;
                if (oh0 + dr / S >= outH) continue;
#pragma unroll
                for (int kx = 0; kx < 3; ++kx) {
                    if (colOk[kx]) acc[ky * 3 + kx] += d[dr / S] * v[kx];
                }
            }
        }
    }
    const int chunks = (int)gridDim.y;
#pragma unroll
    for (int k = 0; k < 9; ++k) {
        const double total = ck_block_sum_double((double)acc[k], scratch);
        if (threadIdx.x == 0) {
            if (dweight != nullptr && chunks == 1) dweight[oc * 9 + k] = (float)total;
            else partials[((i64)chunk * co + oc) * 9 + k] = total;
        }
    }
    if (dweight == nullptr || chunks == 1) return;
    // The last block of channel oc to finish adds its chunks (a fixed order: thread t takes chunks
    // t, t + 256, …, then the block sum), then resets the channel's counter for the next launch.
    __shared__ bool lastBlock;
    if (threadIdx.x == 0) {
        __threadfence();  // this block's partials are visible before it is counted
        lastBlock = atomicAdd(&dw_weight_arrivals[oc], 1u) == (unsigned)chunks - 1;
    }
    __syncthreads();
    if (!lastBlock) return;
    __threadfence();
#pragma unroll 1
    for (int k = 0; k < 9; ++k) {
        double sum = 0.0;
        for (int c = threadIdx.x; c < chunks; c += blockDim.x) sum += __ldcg(partials + ((i64)c * co + oc) * 9 + k);
        const double total = ck_block_sum_double(sum, scratch);
        if (threadIdx.x == 0) dweight[oc * 9 + k] = (float)total;
    }
    if (threadIdx.x == 0) dw_weight_arrivals[oc] = 0u;
}

#define DW_WEIGHT_KERNEL(S)                                                                                        \
    extern "C" __global__ void __launch_bounds__(256) ck_dw3x3_weight_partials_s##S(                              \
        const float* __restrict__ dy, const float* __restrict__ x, double* __restrict__ partials,                  \
        float* __restrict__ dweight, DwGeometry g, i64 imagesPerChunk) {                                           \
        dw3x3_weight_partials<S>(dy, x, partials, dweight, g, (int)imagesPerChunk);                                \
    }
DW_WEIGHT_KERNEL(1)
DW_WEIGHT_KERNEL(2)

// dweight[e] = Σ_chunk partials[chunk·count + e] in chunk order (Float64), e over co·9 entries.
extern "C" __global__ void ck_dw3x3_weight_reduce(const double* __restrict__ partials, float* __restrict__ dweight,
                                                  i64 count, i64 chunks) {
    CK_LOOP(e, count) {
        double total = 0.0;
        for (i64 chunk = 0; chunk < chunks; ++chunk) total += partials[chunk * count + e];
        dweight[e] = (float)total;
    }
}

// ---------------------------------------------------------------------------------------------
// Shared-memory band kernels for the same sums as dw3x3_rows, in the same order. Block b stages
// the input rows one unit of work reads into shared memory with 16-byte loads, then its threads
// compute from there, each one output column × DW_ROWS rows. A unit is either `planesPerUnit`
// whole consecutive "base" planes (small planes) or one band of `bandRows` output rows of one base
// plane (`bands` bands per plane); its staged input is contiguous in memory either way. A base
// plane b has the source planes b·srcPer + s and the output planes b·outPer + m (one of srcPer and
// outPer is 1): forward, source x[b] and outputs y[b·multiplier + m]; input gradient (stride 1),
// sources dy[b·multiplier + s] and output dx[b]. The filter of (b, m, s) is (b·multiplier + m + s)
// mod co. Padding is never staged: taps outside the input are skipped, as above. (The forward pass
// of planes from 28 × 28 takes the tile kernels below, which stage units the same way.)


template <int S, bool FLIP, bool FAN>
static __device__ __forceinline__ void dw3x3_band(const float* __restrict__ in, const float* __restrict__ weight,
                                                  float* __restrict__ out, int bases, int inH, int inW, int outH,
                                                  int outW, int padT, int padL, int srcPer, int outPer, int co,
                                                  int planesPerUnit, int bandRows, int bands) {
    extern __shared__ float4 dw_stage4[];
    if (!FAN) srcPer = 1;  // a compile-time 1 keeps the register count (and occupancy) of the multiplier-1 pass
    const int unit = (int)blockIdx.x;
    const int band = unit % bands, b0 = unit / bands * planesPerUnit;
    const int planes = min(planesPerUnit, bases - b0);
    const int oh0 = band * bandRows, rows = min(bandRows, outH - oh0);
    const int inPlane = inH * inW;
    int hLo = 0, hHi = inH;  // the staged input rows of each source plane
    if (bands > 1) {
        hLo = max(0, oh0 * S - padT);
        hHi = max(hLo, min(inH, (oh0 + rows - 1) * S - padT + 3));
    }
    const float* src = in + b0 * srcPer * inPlane + hLo * inW;
    const int n = bands > 1 ? (hHi - hLo) * inW : planes * srcPer * inPlane;
    // staged[p·inPlane + h·inW + w] = in[b0·srcPer + p, h, w]
    const float* staged = ck_stage_floats(src, n, dw_stage4) - hLo * inW;
    __syncthreads();
    const int rowGroups = (rows + DW_ROWS - 1) / DW_ROWS;
    const int items = planes * outPer * rowGroups * outW;
    const int fan = srcPer * outPer;
    for (int item = threadIdx.x; item < items; item += blockDim.x) {
        const int ow = item % outW;
        const int t = item / outW;
        const int rg = t % rowGroups, local = t / rowGroups;
        const int lb = local / outPer, m = local - lb * outPer;
        const int oh = oh0 + rg * DW_ROWS, ih0 = oh * S - padT, iw0 = ow * S - padL;
        bool colOk[3];
#pragma unroll
        for (int kx = 0; kx < 3; ++kx) colOk[kx] = (unsigned)(iw0 + kx) < (unsigned)inW;
        float acc[DW_ROWS];
#pragma unroll
        for (int j = 0; j < DW_ROWS; ++j) acc[j] = 0.0f;
        for (int s = 0; s < srcPer; ++s) {
            const int wi = ((b0 + lb) * fan + m + s) % co;
            const float* plane = staged + (lb * srcPer + s) * inPlane;
            float w[9];
#pragma unroll
            for (int k = 0; k < 9; ++k) w[k] = __ldg(weight + wi * 9 + (FLIP ? 8 - k : k));
#pragma unroll
            for (int r = 0; r < (DW_ROWS - 1) * S + 3; ++r) {
                const int ih = ih0 + r;
                if (ih < hLo || ih >= hHi) continue;
                const float* row = plane + ih * inW + iw0;
                dw3x3_add_row<S, DW_ROWS>(r, row, colOk, w, acc);
            }
        }
        float* column = out + ((b0 * outPer + local) * outH + oh) * outW + ow;
#pragma unroll
        for (int j = 0; j < DW_ROWS; ++j) {
            if (rg * DW_ROWS + j < rows) column[j * outW] = acc[j];
        }
    }
}

// Forward, 3×3, stride S (1 or 2), any channel multiplier, for small planes (below 28 × 28 the tile
// kernels were slower on the H200); one block per unit, dynamic shared memory for the largest
// unit's staged input (+ 6 floats of alignment slack, in float4s).
#define DW_BAND_FORWARD_KERNEL(S)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) ck_dw3x3_band_forward_s##S(                                 \
        const float* __restrict__ x, const float* __restrict__ weight, float* __restrict__ y, DwGeometry g,        \
        i64 planesPerUnit, i64 bandRows, i64 bands) {                                                              \
        dw3x3_band<S, false, false>(x, weight, y, (int)(g.n * g.c), (int)g.h, (int)g.w, (int)g.oh, (int)g.ow, (int)g.pt,  \
                             (int)g.pl, 1, (int)(g.co / g.c), (int)g.co, (int)planesPerUnit, (int)bandRows,        \
                             (int)bands);                                                                          \
    }
DW_BAND_FORWARD_KERNEL(1)
DW_BAND_FORWARD_KERNEL(2)

// ---------------------------------------------------------------------------------------------
// Forward for small planes (channel multiplier 1), staged both ways: block b takes
// `planesPerUnit` consecutive planes p0, p0 + 1, … (plane = image · channels + channel, the same
// index in x and y) and stages their inputs in shared memory (ck_stage_floats); each
// thread computes a segment of up to DW_SEG adjacent outputs of one output row into a shared output
// buffer, which the block then writes out whole (ck_unstage_floats). Every global access is part
// of one contiguous copy per block, so loads and stores stay 16 bytes wide however small a plane
// is (a 7 × 7 plane is 196 bytes). The sums are dw3x3_rows's: taps in (ky, kx) order from 0, those
// outside the input skipped. Segments of DW_SEG = 7 keep shared-memory reads conflict-free on
// MobileNet's 7 × 7 and 14 × 14 planes (neighbouring threads 7 floats apart).
#define DW_SEG 7

// The outputs of planes p0 … p0 + count − 1 from their inputs (`staged`: plane p0 + p at p·inPlane,
// in shared memory or straight from global memory) into `out` (plane p0 + p at p·outPlane): items
// first, first + step, … of the segments (up to DW_SEG adjacent outputs of one output row), in
// (plane, row, segment) order. The launcher keeps count · outH · segments under 2^31.
template <int S>
static __device__ __forceinline__ void dw3x3_planes_compute(const float* __restrict__ staged,
                                                            const float* __restrict__ weight, float* __restrict__ out,
                                                            int p0, int count, int channels, int inH, int inW,
                                                            int outH, int outW, int padT, int padL, int first, int step) {
    constexpr int SPAN = (DW_SEG - 1) * S + 3;  // input columns of one segment
    const int inPlane = inH * inW, outPlane = outH * outW;
    const int segments = (outW + DW_SEG - 1) / DW_SEG;
    const int items = count * outH * segments;
    for (int item = first; item < items; item += step) {
        const int seg = item % segments, t = item / segments;
        const int oh = t % outH, p = t / outH;
        const int ow0 = seg * DW_SEG, iw0 = ow0 * S - padL;
        const float* plane = staged + (i64)p * inPlane + iw0;
        bool colOk[SPAN];
#pragma unroll
        for (int i = 0; i < SPAN; ++i) colOk[i] = (unsigned)(iw0 + i) < (unsigned)inW;
        float w[9];
        const float* filter = weight + ((p0 + p) % channels) * 9;
#pragma unroll
        for (int k = 0; k < 9; ++k) w[k] = __ldg(filter + k);
        float acc[DW_SEG];
#pragma unroll
        for (int c = 0; c < DW_SEG; ++c) acc[c] = 0.0f;
#pragma unroll
        for (int ky = 0; ky < 3; ++ky) {
            const int ih = oh * S - padT + ky;
            if ((unsigned)ih >= (unsigned)inH) continue;
            const float* row = plane + ih * inW;
            float v[SPAN];
#pragma unroll
            for (int i = 0; i < SPAN; ++i) v[i] = colOk[i] ? row[i] : 0.0f;
#pragma unroll
            for (int c = 0; c < DW_SEG; ++c) {
#pragma unroll
                for (int kx = 0; kx < 3; ++kx) {
                    if (colOk[c * S + kx]) acc[c] += w[ky * 3 + kx] * v[c * S + kx];
                }
            }
        }
        float* dst = out + (i64)p * outPlane + oh * outW + ow0;
#pragma unroll
        for (int c = 0; c < DW_SEG; ++c) {
            if (ow0 + c < outW) dst[c] = acc[c];
        }
    }
}

template <int S>
static __device__ __forceinline__ void dw3x3_planes_forward(const float* __restrict__ x, const float* __restrict__ weight,
                                                            float* __restrict__ y, int planes, int channels, int inH,
                                                            int inW, int outH, int outW, int padT, int padL,
                                                            int planesPerUnit) {
    extern __shared__ float4 dw_stage4[];
    const int p0 = (int)blockIdx.x * planesPerUnit;
    const int count = min(planesPerUnit, planes - p0);
    const int inPlane = inH * inW, outPlane = outH * outW;
    // shared memory: staged inputs, then staged outputs (each ⌈n / 4⌉ + 1 float4)
    float4* outStage4 = dw_stage4 + (planesPerUnit * inPlane + 3) / 4 + 1;
    const float* staged = ck_stage_floats(x + (i64)p0 * inPlane, count * inPlane, dw_stage4);
    float* yUnit = y + (i64)p0 * outPlane;
    float* outStage = (float*)outStage4 + (int)(((unsigned long long)yUnit >> 2) & 3);  // ck_unstage_floats' offset
    __syncthreads();
    dw3x3_planes_compute<S>(staged, weight, outStage, p0, count, channels, inH, inW, outH, outW, padT, padL,
                            (int)threadIdx.x, (int)blockDim.x);
    __syncthreads();
    ck_unstage_floats(yUnit, count * outPlane, outStage4);
}

// Forward, 3×3, stride S (1 or 2), channel multiplier 1, small planes; one block per unit of
// `planesPerUnit` planes (blockDim.x any multiple of 32 up to 256), dynamic shared memory as
// dw3x3_planes_forward lays it out.
#define DW_PLANES_FORWARD_KERNEL(S)                                                                                \
    extern "C" __global__ void __launch_bounds__(256) ck_dw3x3_planes_forward_s##S(                               \
        const float* __restrict__ x, const float* __restrict__ weight, float* __restrict__ y, DwGeometry g,        \
        i64 planesPerUnit) {                                                                                       \
        dw3x3_planes_forward<S>(x, weight, y, (int)(g.n * g.c), (int)g.c, (int)g.h, (int)g.w, (int)g.oh, (int)g.ow, \
                                (int)g.pt, (int)g.pl, (int)planesPerUnit);                                         \
    }
DW_PLANES_FORWARD_KERNEL(1)
DW_PLANES_FORWARD_KERNEL(2)

// The same sums at stride 1 without shared memory, for planes of a few rows (under 10 × 10), where
// the caches serve each row's reuse and block barriers cost more than they save: a grid-stride
// loop over the segments of all planes, reading and writing global memory.
extern "C" __global__ void __launch_bounds__(256) ck_dw3x3_planes_forward_direct_s1(
    const float* __restrict__ x, const float* __restrict__ weight, float* __restrict__ y, DwGeometry g) {
    dw3x3_planes_compute<1>(x, weight, y, 0, (int)(g.n * g.c), (int)g.c, (int)g.h, (int)g.w, (int)g.oh, (int)g.ow,
                            (int)g.pt, (int)g.pl, (int)(blockIdx.x * blockDim.x + threadIdx.x),
                            (int)(blockDim.x * gridDim.x));
}

// Input gradient, 3×3, stride 1: the stride-1 correlation of dy with the rotated filters, summed
// over the channel multiplier (`_fan`: any multiplier, whole planes only, since a band's dy rows
// must be contiguous; otherwise multiplier 1).
#define DW_BAND_BACKWARD_INPUT_KERNEL(NAME, FAN)                                                                   \
    extern "C" __global__ void __launch_bounds__(256) NAME(const float* __restrict__ dy,                           \
                                                           const float* __restrict__ weight, float* __restrict__ dx,  \
                                                           DwGeometry g, i64 planesPerUnit, i64 bandRows, i64 bands) { \
        dw3x3_band<1, true, FAN>(dy, weight, dx, (int)(g.n * g.c), (int)g.oh, (int)g.ow, (int)g.h, (int)g.w,         \
                                 2 - (int)g.pt, 2 - (int)g.pl, (int)(g.co / g.c), 1, (int)g.co, (int)planesPerUnit, \
                                 (int)bandRows, (int)bands);                                                       \
    }
DW_BAND_BACKWARD_INPUT_KERNEL(ck_dw3x3_band_backward_input_s1, false)
DW_BAND_BACKWARD_INPUT_KERNEL(ck_dw3x3_band_backward_input_fan_s1, true)

// ---------------------------------------------------------------------------------------------
// Forward tile kernels: the units and staging of dw3x3_band (whole base planes, or one band of
// rows of one base plane, staged with 16-byte cp.async copies), but each thread computes a tile of COLS
// adjacent output columns × ROWS output rows, so each input value it reads from shared memory
// serves up to 3 horizontal and 3 vertical taps from registers. Items run over (local output
// plane, row group, column group), column groups fastest: a warp reads and writes consecutive
// columns. The index arithmetic is per tile, not per output; rows of a whole 16-byte-aligned tile
// are stored with one vector store. Every output is the same sum in the same order as
// dw3x3_rows: taps in (ky, kx) order from 0, those outside the input skipped (in effect: see the
// branch-free loop).
// The sums of one tile from the staged input (`plane` at the tile's first input column), for finite
// weights: branch-free, a tap outside the input reads 0 (the value masked off by colMask, the row
// clamped into the staged rows [hLo, hHi) and masked off), and w·0 + acc == acc for a finite w,
// so the sum equals the one that skips the tap. (One exception, in sign only: acc is −0 only
// after a negative product that underflowed to −0 with nothing else added; a later masked tap with
// w ≥ 0 then gives +0 where skipping keeps −0.) Reads lie at most 2 floats before and 5 after the
// staged input: the stage buffer's slack. VEC (stride 1, COLS 4, padding 1, aligned rows): inputs
// 1–4 of a tile row are one 16-byte load.
template <int S, int COLS, int ROWS, bool VEC>
static __device__ __forceinline__ void dw3x3_tile_sum(const float* __restrict__ plane, int ih0, int hLo, int hHi,
                                                      int inW, const unsigned (&colMask)[(COLS - 1) * S + 3],
                                                      const float (&w)[9], float (&acc)[ROWS][COLS]) {
    constexpr int SPAN = (COLS - 1) * S + 3;
    constexpr int IN_ROWS = (ROWS - 1) * S + 3;
    constexpr bool VECTOR = VEC && S == 1 && COLS == 4;
#pragma unroll
    for (int r = 0; r < IN_ROWS; ++r) {
        const int ih = ih0 + r;
        // all ones when hLo <= ih < hHi (both differences non-negative), else zero
        const unsigned rowMask = ~(unsigned)(((ih - hLo) | (hHi - 1 - ih)) >> 31);
        const float* row = plane + max(hLo, min(ih, hHi - 1)) * inW;
        float raw[SPAN];
        if (VECTOR) {
            const float4 middle = *(const float4*)(row + 1);
            raw[0] = row[0];
            raw[1] = middle.x; raw[2] = middle.y; raw[3] = middle.z; raw[4] = middle.w;
            raw[SPAN - 1] = row[SPAN - 1];
        } else {
#pragma unroll
            for (int i = 0; i < SPAN; ++i) raw[i] = row[i];
        }
        float v[SPAN];
#pragma unroll
        for (int i = 0; i < SPAN; ++i) v[i] = __uint_as_float(__float_as_uint(raw[i]) & colMask[i] & rowMask);
#pragma unroll
        for (int ky = 0; ky < 3; ++ky) {
            const int d = r - ky;
            if (d < 0 || d % S != 0 || d / S >= ROWS) continue;
#pragma unroll
            for (int c = 0; c < COLS; ++c) {
#pragma unroll
                for (int kx = 0; kx < 3; ++kx) acc[d / S][c] += w[ky * 3 + kx] * v[c * S + kx];
            }
        }
    }
}

template <int S, int COLS, int ROWS>
static __device__ __forceinline__ void dw3x3_tile_forward(const float* __restrict__ x, const float* __restrict__ weight,
                                                          float* __restrict__ y, int bases, int inH, int inW,
                                                          int outH, int outW, int padT, int padL, int outPer, int co,
                                                          int planesPerUnit, int bandRows, int bands) {
    extern __shared__ float4 dw_stage4[];
    constexpr int SPAN = (COLS - 1) * S + 3;  // input columns of one tile row
    const int unit = (int)blockIdx.x;
    const int band = unit % bands, b0 = unit / bands * planesPerUnit;
    const int planes = min(planesPerUnit, bases - b0);
    const int oh0 = band * bandRows, rows = min(bandRows, outH - oh0);
    const int inPlane = inH * inW;
    int hLo = 0, hHi = inH;  // the staged input rows of each plane
    if (bands > 1) {
        hLo = max(0, oh0 * S - padT);
        hHi = max(hLo, min(inH, (oh0 + rows - 1) * S - padT + 3));
    }
    const float* src = x + b0 * inPlane + hLo * inW;
    const int n = bands > 1 ? (hHi - hLo) * inW : planes * inPlane;
    // staged[p·inPlane + h·inW + w] = x[b0 + p, h, w]
    // (one float4 of slack before, two after: the branch-free loop's reads past the edges)
    const float* staged = ck_stage_floats(src, n, dw_stage4 + 1) - hLo * inW;
    __syncthreads();
    const int colGroups = (outW + COLS - 1) / COLS;
    const int rowGroups = (rows + ROWS - 1) / ROWS;
    const int perPlane = rowGroups * colGroups;
    const int items = planes * outPer * perPlane;
    // Whole tile rows go out as one 16-byte (COLS 4) or 8-byte (COLS 2) store when every tile
    // row starts aligned: outW a multiple of COLS and y aligned.
    const bool vectorStores = outW % COLS == 0 && ((unsigned long long)y & (COLS * 4 - 1)) == 0;
    // Stride 1, padding 1, rows of a multiple of 4 floats and x aligned: the middle 4 of a tile
    // row's 6 inputs are one aligned 16-byte shared-memory load (staged sits 16 floats-aligned).
    const bool vectorLoads = S == 1 && COLS == 4 && padL == 1 && inW % 4 == 0 && ((unsigned long long)src & 15) == 0;
    for (int item = threadIdx.x; item < items; item += blockDim.x) {
        // (unsigned: the divisions are shorter)
        const int local = (int)((unsigned)item / (unsigned)perPlane);
        const int rest = item - local * perPlane;
        const int rg = (int)((unsigned)rest / (unsigned)colGroups), cg = rest - rg * colGroups;
        const int lb = outPer == 1 ? local : (int)((unsigned)local / (unsigned)outPer);
        const int outPlane = b0 * outPer + local;  // image · co + oc
        const int oc = (int)((unsigned)outPlane % (unsigned)co);
        const int ohLocal = rg * ROWS, ow0 = cg * COLS;
        const int ih0 = (oh0 + ohLocal) * S - padT, iw0 = ow0 * S - padL;
        bool colOk[SPAN];
#pragma unroll
        for (int i = 0; i < SPAN; ++i) colOk[i] = (unsigned)(iw0 + i) < (unsigned)inW;
        float w[9];
#pragma unroll
        for (int k = 0; k < 9; ++k) w[k] = __ldg(weight + oc * 9 + k);
        float acc[ROWS][COLS];
#pragma unroll
        for (int j = 0; j < ROWS; ++j) {
#pragma unroll
            for (int c = 0; c < COLS; ++c) acc[j][c] = 0.0f;
        }
        const float* plane = staged + lb * inPlane + iw0;
        bool finite = true;
#pragma unroll
        for (int k = 0; k < 9; ++k) finite = finite && fabsf(w[k]) <= 3.402823466e38f;
        if (finite) {
            unsigned colMask[SPAN];
#pragma unroll
            for (int i = 0; i < SPAN; ++i) colMask[i] = colOk[i] ? 0xffffffffu : 0u;
            if (vectorLoads) dw3x3_tile_sum<S, COLS, ROWS, true>(plane, ih0, hLo, hHi, inW, colMask, w, acc);
            else dw3x3_tile_sum<S, COLS, ROWS, false>(plane, ih0, hLo, hHi, inW, colMask, w, acc);
        } else {
            // An infinite or NaN weight: taps outside the input are skipped (w·0 would be NaN).
            // Rare, so one output at a time, stored here.
            for (int j = 0; j < ROWS && ohLocal + j < rows; ++j) {
                for (int c = 0; c < COLS && ow0 + c < outW; ++c) {
                    float sum = 0.0f;
                    for (int ky = 0; ky < 3; ++ky) {
                        const int ih = ih0 + j * S + ky;
                        if (ih < hLo || ih >= hHi) continue;
                        const float* row = plane + ih * inW;
                        for (int kx = 0; kx < 3; ++kx) {
                            if (colOk[c * S + kx]) sum += w[ky * 3 + kx] * row[c * S + kx];
                        }
                    }
                    y[(outPlane * outH + oh0 + ohLocal + j) * outW + ow0 + c] = sum;
                }
            }
            continue;
        }
        float* tile = y + (outPlane * outH + oh0 + ohLocal) * outW + ow0;
#pragma unroll
        for (int j = 0; j < ROWS; ++j) {
            if (ohLocal + j >= rows) break;
            float* out = tile + j * outW;
            if (vectorStores) {
                if (COLS == 4) *(float4*)out = make_float4(acc[j][0], acc[j][1], acc[j][2], acc[j][3]);
                else *(float2*)out = make_float2(acc[j][0], acc[j][1]);
            } else {
#pragma unroll
                for (int c = 0; c < COLS; ++c) {
                    if (ow0 + c < outW) out[c] = acc[j][c];
                }
            }
        }
    }
}

// Forward, 3×3, stride S, tiles of COLS × ROWS outputs per thread, any channel multiplier; one
// block per unit (blockDim.x any multiple of 32 up to 256), dynamic shared memory for the largest
// unit's staged input (+ 12 floats of slack: alignment and the edge reads, in float4s). BOUNDS:
// the launch bounds ((256, 4) caps the registers at 64: 4 blocks of 256 per multiprocessor).
#define DW_TILE_FORWARD_KERNEL(S, COLS, ROWS, BOUNDS)                                                              \
    extern "C" __global__ void __launch_bounds__ BOUNDS ck_dw3x3_tile_forward_s##S##_c##COLS##_r##ROWS(           \
        const float* __restrict__ x, const float* __restrict__ weight, float* __restrict__ y, DwGeometry g,        \
        i64 planesPerUnit, i64 bandRows, i64 bands) {                                                              \
        dw3x3_tile_forward<S, COLS, ROWS>(x, weight, y, (int)(g.n * g.c), (int)g.h, (int)g.w, (int)g.oh,           \
                                          (int)g.ow, (int)g.pt, (int)g.pl, (int)(g.co / g.c), (int)g.co,          \
                                          (int)planesPerUnit, (int)bandRows, (int)bands);                          \
    }
DW_TILE_FORWARD_KERNEL(1, 4, 8, (256, 4))  // 80 registers uncapped
DW_TILE_FORWARD_KERNEL(1, 4, 7, (256))     // 64 as it is (capped at 64 it spills)
DW_TILE_FORWARD_KERNEL(1, 4, 4, (256))
DW_TILE_FORWARD_KERNEL(2, 2, 4, (256))
