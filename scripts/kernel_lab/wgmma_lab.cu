// Kernel lab: the Hopper TF32 wgmma convolution of WGMMAConv.cu on one GPU (sm_90a), checked
// against a Float64 reference on sampled outputs and timed with CUDA events, part by part.
//     nvcc -O3 -arch=sm_90a -std=c++17 -o /tmp/wgmma_lab scripts/kernel_lab/wgmma_lab.cu && /tmp/wgmma_lab
#include "../../Sources/ConvKit/CUDA/Kernels/WGMMAConv.cu"
#include "lab_util.cuh"

struct Shape { const char* name; int n, c, h, w, co, k, stride, pad, dil; bool flipped, timed; };

static int failures = 0;

// For sample s (output index i = s·step mod total): the Float64 sum over the window from the
// NCHW input and the [co][c][kh][kw] weight (or, flipped, the forward layer's [c][co][kh][kw]
// weight rotated), with each operand rounded to TF32 first when `round`; and Σ|x·w| (the scale
// the error is measured against).
__global__ void lab_reference(const float* x, const float* w, WgGeometry g, long long samples, long long step,
                              int flipped, int round, double* ref, double* scale) {
    const long long total = g.n * g.co * g.oh * g.ow;
    for (long long s = blockIdx.x * (long long)blockDim.x + threadIdx.x; s < samples; s += (long long)blockDim.x * gridDim.x) {
        const long long i = (s * step) % total;
        const long long ow = i % g.ow, oh = (i / g.ow) % g.oh, co = (i / (g.ow * g.oh)) % g.co, img = i / (g.ow * g.oh * g.co);
        double sum = 0, abs = 0;
        for (long long c = 0; c < g.c; ++c)
            for (long long r = 0; r < g.kh; ++r)
                for (long long q = 0; q < g.kw; ++q) {
                    const long long ih = oh * g.sh - g.pt + r * g.dh, iw = ow * g.sw - g.pl + q * g.dw;
                    if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                    float xv = x[((img * g.c + c) * g.h + ih) * g.w + iw];
                    float wv = flipped ? w[((c * g.co + co) * g.kh + (g.kh - 1 - r)) * g.kw + (g.kw - 1 - q)]
                                       : w[((co * g.c + c) * g.kh + r) * g.kw + q];
                    if (round) { xv = wg_tf32(xv); wv = wg_tf32(wv); }
                    sum += (double)xv * wv;
                    abs += fabs((double)xv * wv);
                }
        ref[s] = sum;
        scale[s] = abs;
    }
}

__global__ void lab_errors(const float* y, WgGeometry g, long long samples, long long step, const double* ref,
                           const double* scale, double* worst) {
    const long long total = g.n * g.co * g.oh * g.ow;
    for (long long s = blockIdx.x * (long long)blockDim.x + threadIdx.x; s < samples; s += (long long)blockDim.x * gridDim.x) {
        const long long i = (s * step) % total;
        const double e = fabs((double)y[i] - ref[s]) / (scale[s] > 0 ? scale[s] : 1.0);
        const double e2 = y[i] != y[i] ? 1e30 : e;
        atomicMax((unsigned long long*)worst, (unsigned long long)__double_as_longlong(e2));
    }
}

static double worst_error(const float* y, const WgGeometry& g, long long samples, long long step, const double* ref,
                          const double* scale) {
    double* d = nullptr;
    LAB_CHECK(cudaMalloc(&d, 8));
    LAB_CHECK(cudaMemset(d, 0, 8));
    lab_errors<<<256, 256>>>(y, g, samples, step, ref, scale, d);
    double h = 0;
    LAB_CHECK(cudaMemcpy(&h, d, 8, cudaMemcpyDeviceToHost));
    LAB_CHECK(cudaFree(d));
    return h;
}

typedef void (*WgKernel)(const float*, const float*, const float*, float*, WgGeometry, i64);

// A variant beyond the library's three (128 channels, 4 stages, one wgmma group in flight, one
// block an SM). Others tried (benchmarks/2026-12-04-h200-wgmma/variants.txt): 64 channels with no
// group in flight, 128 with 3 stages and one in flight, 128 with 4 and none, 256 with none.
WG_KERNEL(lab_wg_n128_s4_w1, 128, 4, 1, 1)

struct Variant { const char* name; WgKernel kernel; int bn, stages; };

int main() {
    lab_device();
    const Variant variants[] = {
        {"n64 s4 w1", ck_wg_conv_tf32_n64, 64, 4},
        {"n128 s3 w0", ck_wg_conv_tf32_n128, 128, 3},
        {"n128 s4 w1", lab_wg_n128_s4_w1, 128, 4},
        {"n256 s4 w1", ck_wg_conv_tf32_n256, 256, 4},
    };
    for (const Variant& v : variants) {
        const int bytes = v.stages * (128 + v.bn) * 128 + 1024;
        LAB_CHECK(cudaFuncSetAttribute(v.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
    }
    // name, n, c, h, w, co, k, stride, pad, dilation, flipped (a dgrad GEMM: c = dY's channels), timed
    const Shape shapes[] = {
        {"ragged 2x64x9x11 -> 96 k3", 2, 64, 9, 11, 96, 3, 1, 1, 1, false, false},
        {"ragged flipped 3x32x7x5 -> 200 k3", 3, 32, 7, 5, 200, 3, 1, 1, 1, true, false},
        {"stride 2 3x32x10x10 -> 40 k3", 3, 32, 10, 10, 40, 3, 2, 1, 1, false, false},
        {"dilation 2 2x64x12x12 -> 64 k3 p2", 2, 64, 12, 12, 64, 3, 1, 2, 2, false, false},
        {"k5 p0 2x96x9x9 -> 130", 2, 96, 9, 9, 130, 5, 1, 0, 1, false, false},
        {"conv2 fwd 64-192 k5 27", 128, 64, 27, 27, 192, 5, 1, 2, 1, false, true},
        {"conv2 dgrad 192-64 k5 27", 128, 192, 27, 27, 64, 5, 1, 2, 1, true, true},
        {"conv3 fwd 192-384 13", 128, 192, 13, 13, 384, 3, 1, 1, 1, false, true},
        {"conv3 dgrad 384-192 13", 128, 384, 13, 13, 192, 3, 1, 1, 1, true, true},
        {"conv4 fwd 384-256 13", 128, 384, 13, 13, 256, 3, 1, 1, 1, false, true},
        {"conv4 dgrad 256-384 13", 128, 256, 13, 13, 384, 3, 1, 1, 1, true, true},
        {"conv5 fwd/dgrad 256-256 13", 128, 256, 13, 13, 256, 3, 1, 1, 1, false, true},
        {"3x3 64-64 56 fwd/dgrad", 128, 64, 56, 56, 64, 3, 1, 1, 1, false, true},
        {"3x3 256-256 14 fwd/dgrad", 128, 256, 14, 14, 256, 3, 1, 1, 1, false, true},
    };
    for (const Shape& s : shapes) {
        const int oh = (s.h + 2 * s.pad - s.dil * (s.k - 1) - 1) / s.stride + 1;
        const int ow = (s.w + 2 * s.pad - s.dil * (s.k - 1) - 1) / s.stride + 1;
        WgGeometry g{s.n, s.c, s.h, s.w, s.co, s.k, s.k, s.stride, s.stride, s.pad, s.pad, s.dil, s.dil, 1, oh, ow};
        const long long inN = (long long)s.n * s.c * s.h * s.w, outN = (long long)s.n * s.co * oh * ow;
        const long long wN = (long long)s.co * s.c * s.k * s.k, K = (long long)s.c * s.k * s.k, M = (long long)s.n * oh * ow;
        const double flops = 2.0 * M * s.co * K;
        printf("%s: M %lld N %d K %lld, %.2f GFLOP\n", s.name, M, s.co, K, flops / 1e9);
        float *x = lab_alloc(inN), *xn = lab_alloc(inN), *w = lab_alloc(wN), *y = lab_alloc(outN);
        lab_random(x, inN, 11);
        lab_random(w, wN, 12);
        const long long samples = std::min(outN, 1ll << 16), step = outN > samples ? 7919 : 1;
        double *refRounded, *refExact, *scale;
        LAB_CHECK(cudaMalloc(&refRounded, samples * 8));
        LAB_CHECK(cudaMalloc(&refExact, samples * 8));
        LAB_CHECK(cudaMalloc(&scale, samples * 8));
        lab_reference<<<512, 128>>>(x, w, g, samples, step, s.flipped, 1, refRounded, scale);
        lab_reference<<<512, 128>>>(x, w, g, samples, step, s.flipped, 0, refExact, scale);
        LAB_CHECK(cudaDeviceSynchronize());
        const long long transposeBlocks = (long long)s.n * ((s.h * s.w + 31) / 32) * (s.c / 32);
        for (const Variant& v : variants) {
            if (v.bn == 256 && s.co <= 128) continue;
            if (v.bn == 64 && s.co > 256 && s.timed) continue;
            const int nTiles = (s.co + v.bn - 1) / v.bn, nPad = nTiles * v.bn;
            float* wp = lab_alloc((long long)nPad * K);
            const long long packBlocks = std::min(1024ll, ((long long)nPad * K + 255) / 256);
            // prepare(zero): the transpose, the packing, and with `zero` the output zeroed.
            auto prepare = [&](bool zero) {
                const long long zeroBlocks = zero ? std::min(1024ll, (outN + 1023) / 1024) : 0;
                ck_wg_prepare<<<packBlocks + zeroBlocks + transposeBlocks, 256>>>(x, xn, w, wp, y, g, nPad, s.flipped,
                                                                               zero ? outN : 0, packBlocks, zeroBlocks);
            };
            const int blocks = (int)((M + 127) / 128) * nTiles;
            const int smem = v.stages * (128 + v.bn) * 128 + 1024;
            for (int splits = 1; splits <= 2; ++splits) {
                auto conv = [&] { v.kernel<<<dim3(blocks, splits), 256, smem>>>(xn, wp, nullptr, y, g, nTiles); };
                auto both = [&] { prepare(splits > 1); conv(); };
                LAB_CHECK(cudaMemset(y, 0xff, outN * 4));
                both();
                LAB_CHECK(cudaDeviceSynchronize());
                const double eRounded = worst_error(y, g, samples, step, refRounded, scale);
                const double eExact = worst_error(y, g, samples, step, refExact, scale);
                const bool ok = eRounded < 1e-5 && eExact < 1e-3;
                if (!ok) ++failures;
                printf("  %-10s x%d %s: error vs TF32 operands %.2e, vs fp32 operands %.2e", v.name, splits,
                       ok ? "PASS" : "FAIL", eRounded, eExact);
                if (s.timed) {
                    const LabTime tc = lab_time(conv), tp = lab_time([&] { prepare(splits > 1); }), tb = lab_time(both);
                    printf("; GEMM single %7.1f us (%5.1f TFLOP/s) batched %7.1f; prepare single %5.1f batched %5.1f; "
                           "both single %7.1f us", tc.single_us, flops / tc.single_us / 1e6, tc.batched_us, tp.single_us,
                           tp.batched_us, tb.single_us);
                }
                printf("\n");
            }
            LAB_CHECK(cudaFree(wp));
        }
        LAB_CHECK(cudaFree(x)); LAB_CHECK(cudaFree(xn)); LAB_CHECK(cudaFree(w)); LAB_CHECK(cudaFree(y));
        LAB_CHECK(cudaFree(refRounded)); LAB_CHECK(cudaFree(refExact)); LAB_CHECK(cudaFree(scale));
    }
    printf(failures ? "wgmma lab: %d FAILED\n" : "wgmma lab: all PASS\n", failures);
    return failures ? 1 : 0;
}
