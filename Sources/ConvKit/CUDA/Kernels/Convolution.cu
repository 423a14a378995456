// Convolution kernels: the channel bias and its gradient, im2col / col2im (a gather) and the
// staging copy of the im2col algorithm, and the direct convolution (the seven loops, one thread or
// one block per result). Every result is written by one thread in a fixed order: no atomics.
#include "Common.cuh"

// The sizes of one convolution, as `Conv2dGeometry` (passed by value from Swift as 16 long longs,
// in this order; see `KernelArgument.convShape`). Only the top/left padding is needed: the output
// size already accounts for the bottom/right padding.
struct CkConvShape {
    i64 n, inC, inH, inW, outC, kH, kW, strideH, strideW, padTop, padLeft, dilH, dilW, groups, outH, outW;
};

// The outputs o in [lo, hi) of a dimension whose input o·stride + offset lies in [0, inSize), as
// `ConvIndexing.validOutputs` on the CPU (hi == lo when there is none).
static __device__ __forceinline__ void ck_conv_valid_outputs(i64 offset, i64 stride, i64 inSize, i64 outSize,
                                                            i64& lo, i64& hi) {
    lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    const i64 last = inSize - 1 - offset;
    hi = last < 0 ? 0 : (last / stride + 1 < outSize ? last / stride + 1 : outSize);
    if (hi < lo) hi = lo;
}

// ---------------------------------------------------------------------------------------------
// Channel bias

// y[i] += bias[channel of i] for an [n, channels, spatial] tensor of `total` elements.
extern "C" __global__ void ck_conv_add_channel_bias(float* y, const float* bias, i64 total, i64 channels, i64 spatial) {
    CK_LOOP(i, total) y[i] += bias[(i / spatial) % channels];
}

// gradBias[c] = Σ_{image, p} dy[image, c, p] for large planes or few channels, in two launches (as
// the CPU: Float32 per plane, Float64 across planes). First each plane (image, c) is summed in
// float by a whole block (grid-stride over planes) into planeSums[image·channels + c]; then a block
// per channel adds its planes' sums in double (each thread the images t, t + blockDim.x, …, then
// a fixed-order block reduction). (One block per channel doing both left most of the GPU idle:
// 0.62 ms for AlexNet conv1's 64 channels of 128 × 55 × 55 on the H200; one thread per channel
// for the second step, 16 µs for 256 channels of 128 images.)
extern "C" __global__ void ck_conv_bias_plane_sums(const float* dy, float* planeSums, i64 planes, i64 spatial) {
    __shared__ float scratch[32];
    for (i64 index = blockIdx.x; index < planes; index += gridDim.x) {
        const float* plane = dy + index * spatial;
        float sum = 0.0f;
        for (i64 p = threadIdx.x; p < spatial; p += blockDim.x) sum += plane[p];
        sum = ck_block_sum(sum, scratch);
        if (threadIdx.x == 0) planeSums[index] = sum;
    }
}

extern "C" __global__ void ck_conv_bias_sum_planes(const float* planeSums, float* gradBias, i64 n, i64 channels) {
    __shared__ double scratch[32];
    for (i64 c = blockIdx.x; c < channels; c += gridDim.x) {
        double total = 0.0;
        for (i64 image = threadIdx.x; image < n; image += blockDim.x) total += (double)planeSums[image * channels + c];
        total = ck_block_sum_double(total, scratch);
        if (threadIdx.x == 0) gradBias[c] = (float)total;
    }
}

// The same for small planes of many channels: a block per channel, each of its warps sums planes
// image = warp, warp + warps, … (a float per plane) and adds them in double, and the warps'
// doubles are added by a block reduction.
extern "C" __global__ void ck_conv_bias_grad_warp(const float* dy, float* gradBias, i64 n, i64 channels, i64 spatial) {
    __shared__ double scratch[32];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    for (i64 c = blockIdx.x; c < channels; c += gridDim.x) {
        double total = 0.0;
        for (i64 image = warp; image < n; image += warps) {
            const float* plane = dy + (image * channels + c) * spatial;
            float sum = 0.0f;
            for (i64 p = lane; p < spatial; p += 32) sum += plane[p];
            for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
            total += (double)sum;
        }
        total = ck_block_sum_double(lane == 0 ? total : 0.0, scratch);
        if (threadIdx.x == 0) gradBias[c] = (float)total;
    }
}

// ---------------------------------------------------------------------------------------------
// im2col algorithm

// X̂ for images firstImage ..< firstImage + count: element (image, row, p) with row = (c, ky, kx)
// over all input channels and p = (oy, ox) is written at col[image·imageStride + row·rowStride + p]
// (so the layout is [image][row][P] or [row][image·P]); zero where the tap reads padding.
extern "C" __global__ void ck_conv_im2col(const float* x, float* col, CkConvShape s, i64 firstImage, i64 count,
                                          i64 imageStride, i64 rowStride) {
    const i64 P = s.outH * s.outW, taps = s.kH * s.kW, rows = s.inC * taps;
    CK_LOOP(i, count * rows * P) {
        const i64 p = i % P, t = i / P;
        const i64 row = t % rows, image = t / rows;
        const i64 ox = p % s.outW, oy = p / s.outW;
        const i64 c = row / taps, tap = row % taps, ky = tap / s.kW, kx = tap % s.kW;
        const i64 iy = oy * s.strideH - s.padTop + ky * s.dilH;
        const i64 ix = ox * s.strideW - s.padLeft + kx * s.dilW;
        float value = 0.0f;
        if (iy >= 0 && iy < s.inH && ix >= 0 && ix < s.inW)
            value = x[(((firstImage + image) * s.inC + c) * s.inH + iy) * s.inW + ix];
        col[image * imageStride + row * rowStride + p] = value;
    }
}

// col2im as a gather: each input element of images firstImage ..< firstImage + count is written
// once, as the sum (taps in (ky, kx) order) of the entries of dX̂ (laid out as in ck_conv_im2col)
// that read it.
extern "C" __global__ void ck_conv_col2im(const float* col, float* dx, CkConvShape s, i64 firstImage, i64 count,
                                          i64 imageStride, i64 rowStride) {
    const i64 taps = s.kH * s.kW;
    CK_LOOP(i, count * s.inC * s.inH * s.inW) {
        const i64 ix = i % s.inW;
        i64 t = i / s.inW;
        const i64 iy = t % s.inH;
        t /= s.inH;
        const i64 c = t % s.inC, image = t / s.inC;
        const float* base = col + image * imageStride + c * taps * rowStride;
        float sum = 0.0f;
        for (i64 ky = 0; ky < s.kH; ++ky) {
            const i64 ny = iy + s.padTop - ky * s.dilH;
            if (ny < 0) break;  // larger ky only lowers ny
            if (ny % s.strideH != 0) continue;
            const i64 oy = ny / s.strideH;
            if (oy >= s.outH) continue;
            for (i64 kx = 0; kx < s.kW; ++kx) {
                const i64 nx = ix + s.padLeft - kx * s.dilW;
                if (nx < 0) break;
                if (nx % s.strideW != 0) continue;
                const i64 ox = nx / s.strideW;
                if (ox >= s.outW) continue;
                sum += base[(ky * s.kW + kx) * rowStride + oy * s.outW + ox];
            }
        }
        dx[(((firstImage + image) * s.inC + c) * s.inH + iy) * s.inW + ix] = sum;
    }
}

// dst[c][image·spatial + p] = src[firstImage + image][c][p] for image < count: the planes of a
// chunk of images side by side per channel (dY as a [channels][count·spatial] matrix).
extern "C" __global__ void ck_conv_stage(const float* src, float* dst, i64 firstImage, i64 count, i64 channels, i64 spatial) {
    CK_LOOP(i, channels * count * spatial) {
        const i64 p = i % spatial, t = i / spatial;
        const i64 image = t % count, c = t / count;
        dst[i] = src[((firstImage + image) * channels + c) * spatial + p];
    }
}

// ---------------------------------------------------------------------------------------------
// Direct convolution

// y[image, oc, oy, ox] = Σ_{c in the group, ky, kx} w[oc, c, ky, kx] · x[image, c, iy, ix] over
// the taps that read inside the input, in (c, ky, kx) order: one thread per output element.
extern "C" __global__ void ck_conv_direct_forward(const float* __restrict__ x, const float* __restrict__ w,
                                                  float* __restrict__ y, CkConvShape s) {
    const i64 cpg = s.inC / s.groups, opg = s.outC / s.groups, taps = s.kH * s.kW;
    CK_LOOP(i, s.n * s.outC * s.outH * s.outW) {
        const i64 ox = i % s.outW;
        i64 t = i / s.outW;
        const i64 oy = t % s.outH;
        t /= s.outH;
        const i64 oc = t % s.outC, image = t / s.outC;
        const float* xs = x + (image * s.inC + (oc / opg) * cpg) * s.inH * s.inW;
        const float* ws = w + oc * cpg * taps;
        const i64 y0 = oy * s.strideH - s.padTop, x0 = ox * s.strideW - s.padLeft;
        float sum = 0.0f;
        for (i64 c = 0; c < cpg; ++c) {
            const float* xc = xs + c * s.inH * s.inW;
            const float* wc = ws + c * taps;
            for (i64 ky = 0; ky < s.kH; ++ky) {
                const i64 iy = y0 + ky * s.dilH;
                if (iy < 0 || iy >= s.inH) continue;
                for (i64 kx = 0; kx < s.kW; ++kx) {
                    const i64 ix = x0 + kx * s.dilW;
                    if (ix < 0 || ix >= s.inW) continue;
                    sum += wc[ky * s.kW + kx] * xc[iy * s.inW + ix];
                }
            }
        }
        y[i] = sum;
    }
}

// dx[image, c, iy, ix] = Σ_{oc in c's group, ky, kx} w[oc, c, ky, kx] · dy[image, oc, oy, ox] over
// the (tap, output) pairs that read this input (oy·strideH - padTop + ky·dilH == iy, likewise x),
// in (oc, ky, kx) order: one thread per input element.
extern "C" __global__ void ck_conv_direct_backward_input(const float* __restrict__ dy, const float* __restrict__ w,
                                                         float* __restrict__ dx, CkConvShape s) {
    const i64 cpg = s.inC / s.groups, opg = s.outC / s.groups, taps = s.kH * s.kW;
    CK_LOOP(i, s.n * s.inC * s.inH * s.inW) {
        const i64 ix = i % s.inW;
        i64 t = i / s.inW;
        const i64 iy = t % s.inH;
        t /= s.inH;
        const i64 c = t % s.inC, image = t / s.inC;
        const i64 group = c / cpg, cInGroup = c % cpg;
        float sum = 0.0f;
        for (i64 o = 0; o < opg; ++o) {
            const i64 oc = group * opg + o;
            const float* dys = dy + (image * s.outC + oc) * s.outH * s.outW;
            const float* ws = w + (oc * cpg + cInGroup) * taps;
            for (i64 ky = 0; ky < s.kH; ++ky) {
                const i64 ny = iy + s.padTop - ky * s.dilH;
                if (ny < 0) break;  // larger ky only lowers ny
                if (ny % s.strideH != 0) continue;
                const i64 oy = ny / s.strideH;
                if (oy >= s.outH) continue;
                for (i64 kx = 0; kx < s.kW; ++kx) {
                    const i64 nx = ix + s.padLeft - kx * s.dilW;
                    if (nx < 0) break;
                    if (nx % s.strideW != 0) continue;
                    const i64 ox = nx / s.strideW;
                    if (ox >= s.outW) continue;
                    sum += ws[ky * s.kW + kx] * dys[oy * s.outW + ox];
                }
            }
        }
        dx[i] = sum;
    }
}

// dw[oc, c, ky, kx] = Σ_{image, oy, ox} dy[image, oc, oy, ox] · x[image, c', iy, ix] (c' the
// group's input channel c) over the outputs whose tap reads inside the input: one block per weight
// element (grid-stride over them); the block's threads take the (image, oy, ox) items in turn and
// their float partial sums are added by a block reduction (fixed order: deterministic).
extern "C" __global__ void ck_conv_direct_backward_weight(const float* __restrict__ dy, const float* __restrict__ x,
                                                          float* __restrict__ dw, CkConvShape s) {
    __shared__ float scratch[32];
    const i64 cpg = s.inC / s.groups, opg = s.outC / s.groups, taps = s.kH * s.kW;
    const i64 P = s.outH * s.outW;
    for (i64 e = blockIdx.x; e < s.outC * cpg * taps; e += gridDim.x) {
        const i64 tap = e % taps, pair = e / taps;
        const i64 ky = tap / s.kW, kx = tap % s.kW;
        const i64 cInGroup = pair % cpg, oc = pair / cpg;
        const i64 c = (oc / opg) * cpg + cInGroup;
        const i64 offsetY = ky * s.dilH - s.padTop, offsetX = kx * s.dilW - s.padLeft;
        i64 yLo, yHi, xLo, xHi;
        ck_conv_valid_outputs(offsetY, s.strideH, s.inH, s.outH, yLo, yHi);
        ck_conv_valid_outputs(offsetX, s.strideW, s.inW, s.outW, xLo, xHi);
        const i64 rows = yHi - yLo, cols = xHi - xLo;
        float sum = 0.0f;
        for (i64 j = threadIdx.x; j < s.n * rows * cols; j += blockDim.x) {
            const i64 ox = xLo + j % cols;
            const i64 t = j / cols;
            const i64 oy = yLo + t % rows, image = t / rows;
            const i64 iy = oy * s.strideH + offsetY, ix = ox * s.strideW + offsetX;
            sum += dy[(image * s.outC + oc) * P + oy * s.outW + ox] * x[((image * s.inC + c) * s.inH + iy) * s.inW + ix];
        }
        sum = ck_block_sum(sum, scratch);
        if (threadIdx.x == 0) dw[e] = sum;
    }
}

// ---------------------------------------------------------------------------------------------
// Input gradient of a strided convolution with few input channels (AlexNet's first layer:
// 3 channels, 11×11, stride 4), dilation 1, one group, padding ≥ 0.
//
// Input row ih = sH·u + r is read only by taps kh ≡ (r + padTop) mod sH, the same for every u of
// phase r; likewise columns. A thread takes one row u of phase (r, q) and J consecutive columns
// j0 … j0 + J − 1 of that phase (iw = sW·j + q), all CH channels: for each kh tap and output
// channel it loads the J + nB − 1 output-gradient values its J columns and nB column taps read
// once (its J + 3 neighbours), and the nB taps' weights for all channels as one float4 each, from shared memory (the
// weight for a chunk of `chunk` output channels, as [oc][kh][kw] float4, channels padded to 4).
// Threads run over (image, r, q, u, strip), strips fastest, so a warp shares its taps.
// Sums are in (kh, oc, kw) order per element: deterministic.
#define CK_FEW_J 8
#define CK_FEW_MAX_TAPS 4  // column taps per phase, ceil(kW / sW), at most this
template <int CH>
static __device__ __forceinline__ void ck_conv_dgrad_few_channels(const float* __restrict__ dy,
                                                                  const float* __restrict__ w,
                                                                  float* __restrict__ dx, const CkConvShape& s,
                                                                  int chunk) {
    extern __shared__ float4 ck_few_weights[];
    const int kH = (int)s.kH, kW = (int)s.kW, sH = (int)s.strideH, sW = (int)s.strideW;
    const int inH = (int)s.inH, inW = (int)s.inW, outH = (int)s.outH, outW = (int)s.outW;
    const int rowsPerPhase = (inH + sH - 1) / sH, colsPerPhase = (inW + sW - 1) / sW;
    const int strips = (colsPerPhase + CK_FEW_J - 1) / CK_FEW_J;
    const i64 items = s.n * sH * sW * (i64)rowsPerPhase * strips;
    const i64 item = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    const bool active = item < items;

    i64 t = active ? item : 0;
    const int strip = (int)(t % strips); t /= strips;
    const int u = (int)(t % rowsPerPhase); t /= rowsPerPhase;
    const int q = (int)(t % sW); t /= sW;
    const int r = (int)(t % sH);
    const i64 image = t / sH;
    const int ih = sH * u + r, j0 = strip * CK_FEW_J;
    const int kh0 = (r + (int)s.padTop) % sH, kw0 = (q + (int)s.padLeft) % sW;
    const int baseH = (r + (int)s.padTop - kh0) / sH, baseW = (q + (int)s.padLeft - kw0) / sW;
    const int tapsH = kh0 < kH ? (kH - kh0 + sH - 1) / sH : 0, tapsW = kw0 < kW ? (kW - kw0 + sW - 1) / sW : 0;
    // Output column of loaded value k: owFirst + k (values k < MAX − tapsW are not read).
    const int owFirst = j0 + baseW - (CK_FEW_MAX_TAPS - 1);

    float acc[CK_FEW_J][CH];
#pragma unroll
    for (int jj = 0; jj < CK_FEW_J; ++jj)
#pragma unroll
        for (int c = 0; c < CH; ++c) acc[jj][c] = 0.0f;

    const int taps = kH * kW;
    for (int oc0 = 0; oc0 < (int)s.outC; oc0 += chunk) {
        const int count = min(chunk, (int)s.outC - oc0);
        __syncthreads();  // the previous chunk's readers are done
        for (int e = threadIdx.x; e < count * taps; e += blockDim.x) {
            const int oc = oc0 + e / taps, tap = e % taps;
            const float* source = w + (i64)oc * CH * taps + tap;
            ck_few_weights[e] = make_float4(source[0], CH > 1 ? source[taps] : 0.0f, CH > 2 ? source[2 * taps] : 0.0f,
                                            CH > 3 ? source[3 * taps] : 0.0f);
        }
        __syncthreads();
        if (!active || ih >= inH) continue;
        for (int a = 0; a < tapsH; ++a) {
            const int oh = u + baseH - a;
            if (oh < 0 || oh >= outH) continue;
            const int kh = kh0 + sH * a;
            for (int o = 0; o < count; ++o) {
                const float* row = dy + ((image * s.outC + oc0 + o) * outH + oh) * (i64)outW;
                float v[CK_FEW_J + CK_FEW_MAX_TAPS - 1];
#pragma unroll
                for (int k = 0; k < CK_FEW_J + CK_FEW_MAX_TAPS - 1; ++k) {
                    const int ow = owFirst + k;
                    v[k] = (k >= CK_FEW_MAX_TAPS - tapsW && ow >= 0 && ow < outW) ? __ldg(row + ow) : 0.0f;
                }
                const float4* wr = ck_few_weights + (o * kH + kh) * kW + kw0;
#pragma unroll
                for (int b = 0; b < CK_FEW_MAX_TAPS; ++b) {
                    if (b >= tapsW) break;
                    const float4 wv = wr[sW * b];
                    // Column jj reads output column j0 + jj + baseW − b: value jj + MAX − 1 − b.
#pragma unroll
                    for (int jj = 0; jj < CK_FEW_J; ++jj) {
                        const float g = v[jj + CK_FEW_MAX_TAPS - 1 - b];
#pragma unroll
                        for (int c = 0; c < CH; ++c) {
                            const float wc = c == 0 ? wv.x : c == 1 ? wv.y : c == 2 ? wv.z : wv.w;
                            acc[jj][c] = fmaf(wc, g, acc[jj][c]);
                        }
                    }
                }
            }
        }
    }
    if (!active || ih >= inH) return;
#pragma unroll
    for (int jj = 0; jj < CK_FEW_J; ++jj) {
        const int iw = sW * (j0 + jj) + q;
        if (j0 + jj >= colsPerPhase || iw >= inW) continue;
#pragma unroll
        for (int c = 0; c < CH; ++c) dx[((image * CH + c) * inH + ih) * (i64)inW + iw] = acc[jj][c];
    }
}

// Grid: ceil(n · sH · sW · ceil(inH / sH) · ceil(ceil(inW / sW) / 8) / 256) blocks of 256;
// dynamic shared memory chunk · kH · kW float4s.
#define CK_FEW_KERNEL(CH)                                                                                          \
    extern "C" __global__ void __launch_bounds__(256) ck_conv_dgrad_few_channels_c##CH(                            \
        const float* __restrict__ dy, const float* __restrict__ w, float* __restrict__ dx, CkConvShape s,         \
        i64 chunk) {                                                                                               \
        ck_conv_dgrad_few_channels<CH>(dy, w, dx, s, (int)chunk);                                                  \
    }
CK_FEW_KERNEL(1)
CK_FEW_KERNEL(2)
CK_FEW_KERNEL(3)
CK_FEW_KERNEL(4)
