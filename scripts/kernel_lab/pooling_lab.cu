// Kernel lab: the k3 s2 max-pooling forward kernels of Pooling.cu (the generic band kernel and the strips kernel) on one GPU, checked bit for bit (values,
// int32 indices, compact argmax bytes) against the per-window kernel and timed with CUDA events.
//     nvcc -O3 -arch=sm_90 -std=c++17 -o /tmp/pooling_lab scripts/kernel_lab/pooling_lab.cu && /tmp/pooling_lab
#include "../../Sources/ConvKit/CUDA/Kernels/Pooling.cu"
#include "lab_util.cuh"

struct Shape { const char* name; int n, c, h, w, k, s, p; bool timed; };

static int failures = 0;

static void check(const char* what, const void* got, const void* want, long long words) {
    lab_check(what, got, want, words, failures);
}

typedef void (*FixedKernel)(const float*, float*, int*, unsigned char*, i64, i64, i64, i64, i64, i64, i64, i64, i64);

int main() {
    const int sms = lab_device();
    const Shape shapes[] = {
        {"k3s2 N128 C64 55", 128, 64, 55, 55, 3, 2, 0, true},
        {"k3s2 N128 C64 112 p1", 128, 64, 112, 112, 3, 2, 1, true},
        {"k3s2 N2 C3 13 p1", 2, 3, 13, 13, 3, 2, 1, false},
        {"k3s2 N1 C5 56x9 p1", 1, 5, 56, 9, 3, 2, 1, false},
        {"k3s2 N3 C2 200x100 p0 (bands)", 3, 2, 200, 100, 3, 2, 0, false},
        {"k3s2 N2 C2 4x4 p1", 2, 2, 4, 4, 3, 2, 1, false},
    };
    for (const Shape& s : shapes) {
        const int oh = (s.h + 2 * s.p - s.k) / s.s + 1, ow = (s.w + 2 * s.p - s.k) / s.s + 1;
        const long long planes = (long long)s.n * s.c, inN = planes * s.h * s.w, outN = planes * oh * ow;
        const double bytes = 4.0 * (inN + outN);
        printf("%s: %lld planes %dx%d -> %dx%d, %.1f MB\n", s.name, planes, s.h, s.w, oh, ow, bytes / 1e6);
        for (int specials = 0; specials < 2; ++specials) {
            float *x = lab_alloc(inN), *refY = lab_alloc(outN), *y = lab_alloc(outN);
            int *refIdx = (int*)lab_alloc(outN), *idx = (int*)lab_alloc(outN);
            unsigned char *refArg = (unsigned char*)lab_alloc(outN / 4 + 1), *arg = (unsigned char*)lab_alloc(outN / 4 + 1);
            const long long argWords = (outN + 3) / 4;
            lab_random(x, inN, 3 + specials, true, specials);
            ck_pool_max2d<<<sms * 32, 256>>>(x, refY, refIdx, planes, s.h, s.w, oh, ow, s.k, s.k, s.s, s.s, s.p, s.p, 1, 1);
            // band rows as CUDAPoolingKernels.forwardBandRows makes them
            auto inRows = [&](int rows) { return std::min(s.h, (rows - 1) * s.s + s.k); };
            int bandRows = 1;
            while (bandRows < oh && inRows(bandRows + 1) * s.w + 8 <= 6144) ++bandRows;
            const long long bands = (oh + bandRows - 1) / bandRows;
            const int shared = ((inRows(bandRows) * s.w + 3) / 4 + 1) * 16;
            const int grid = (int)std::min(planes * bands, 1ll << 24);
            LAB_CHECK(cudaMemset(refArg, 0, argWords * 4));
            auto band = [&](int* indices, unsigned char* argmax) {
                ck_pool_max2d_band<<<grid, 256, shared>>>(x, y, indices, argmax, planes, s.h, s.w, oh, ow, s.k, s.k, s.s,
                                                          s.s, s.p, s.p, 1, 1, bandRows, bands);
            };
            band(idx, refArg);
            LAB_CHECK(cudaDeviceSynchronize());
            check("band values", y, refY, outN);
            check("band indices", idx, refIdx, outN);
            if (s.timed && !specials) {
                lab_report("band (generic), values + argmax", lab_time([&] { band(nullptr, arg); }), bytes);
                lab_report("band (generic), values", lab_time([&] { band(nullptr, nullptr); }), bytes);
            }
            const struct { const char* name; FixedKernel kernel; } kernels[] = {
                {"strips k3s2", ck_pool_max2d_strips_k3s2},
            };
            for (const auto& k : kernels) {
                LAB_CHECK(cudaMemset(y, 0xff, outN * 4));
                LAB_CHECK(cudaMemset(idx, 0xff, outN * 4));
                LAB_CHECK(cudaMemset(arg, 0, argWords * 4));
                k.kernel<<<grid, 256, shared>>>(x, y, idx, arg, planes, s.h, s.w, oh, ow, s.p, s.p, bandRows, bands);
                LAB_CHECK(cudaDeviceSynchronize());
                char what[96];
                snprintf(what, sizeof what, "%s (specials %d)", k.name, specials);
                check(what, y, refY, outN);
                check(what, idx, refIdx, outN);
                check(what, arg, refArg, argWords);
                if (s.timed && !specials) {
                    snprintf(what, sizeof what, "%s, values + argmax", k.name);
                    lab_report(what, lab_time([&] { k.kernel<<<grid, 256, shared>>>(x, y, nullptr, arg, planes, s.h, s.w, oh, ow, s.p, s.p, bandRows, bands); }), bytes);
                    snprintf(what, sizeof what, "%s, values", k.name);
                    lab_report(what, lab_time([&] { k.kernel<<<grid, 256, shared>>>(x, y, nullptr, nullptr, planes, s.h, s.w, oh, ow, s.p, s.p, bandRows, bands); }), bytes);
                }
            }
            if (s.timed && !specials) {
                float* copy = lab_alloc(inN);
                lab_report("device copy of the input", lab_time([&] { cudaMemcpyAsync(copy, x, inN * 4, cudaMemcpyDeviceToDevice); }), 8.0 * inN);
                cudaFree(copy);
            }
            cudaFree(x); cudaFree(refY); cudaFree(y); cudaFree(refIdx); cudaFree(idx); cudaFree(refArg); cudaFree(arg);
        }
    }
    printf("%s: %d failures\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
