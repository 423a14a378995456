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
