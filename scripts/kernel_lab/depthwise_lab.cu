// Kernel lab: the depthwise 3×3 forward kernels of Depthwise.cu on one GPU, checked bit for bit
// against the one-thread-per-output reference kernel and timed with CUDA events.
//     nvcc -O3 -arch=sm_90 -std=c++17 -o /tmp/depthwise_lab scripts/kernel_lab/depthwise_lab.cu && /tmp/depthwise_lab
#include "../../Sources/ConvKit/CUDA/Kernels/Depthwise.cu"
#include "lab_util.cuh"

struct Shape { const char* name; int n, c, h, w, stride, pad; bool timed; };

static int failures = 0;

static void check(const char* what, const void* got, const void* want, long long words) {
    lab_check(what, got, want, words, failures);
}

int main() {
    const int sms = lab_device();
    const Shape shapes[] = {
        {"N128 C512 14 s1", 128, 512, 14, 14, 1, 1, true},
        {"N128 C1024 7 s1", 128, 1024, 7, 7, 1, 1, true},
        {"N128 C256 28 s1", 128, 256, 28, 28, 1, 1, true},
        {"N128 C512 14 s2", 128, 512, 14, 14, 2, 1, true},
        {"N128 C256 28 s2", 128, 256, 28, 28, 2, 1, true},
        {"N3 C37 14 s1 (ragged)", 3, 37, 14, 14, 1, 1, false},
        {"N3 C37 9x11 s1 p0", 3, 37, 9, 11, 1, 0, false},
        {"N2 C5 7 s2", 2, 5, 7, 7, 2, 1, false},
        {"N1 C3 3x17 s1 p2", 1, 3, 3, 17, 1, 2, false},
        {"N5 C7 10x10 s2 p0", 5, 7, 10, 10, 2, 0, false},
    };
    for (const Shape& s : shapes) {
        const int oh = (s.h + 2 * s.pad - 3) / s.stride + 1, ow = (s.w + 2 * s.pad - 3) / s.stride + 1;
        const long long planes = (long long)s.n * s.c, inN = planes * s.h * s.w, outN = planes * oh * ow;
        const double bytes = 4.0 * (inN + outN);
        printf("%s: %lld planes %dx%d -> %dx%d, %.1f MB\n", s.name, planes, s.h, s.w, oh, ow, bytes / 1e6);
        float *x = lab_alloc(inN), *w = lab_alloc(s.c * 9), *ref = lab_alloc(outN), *y = lab_alloc(outN);
        lab_random(x, inN, 1);
        lab_random(w, s.c * 9, 2);
        DwGeometry g{s.n, s.c, s.h, s.w, s.c, 3, 3, s.stride, s.stride, s.pad, s.pad, 1, 1, s.c, oh, ow};
        ck_dw_forward<<<sms * 32, 256>>>(x, w, ref, g);
        LAB_CHECK(cudaDeviceSynchronize());
        // The register-strip kernel (what 7 × 7 runs today).
        {
            const long long items = planes * ((oh + 7) / 8) * ow;
            const int grid = (int)std::max(1ll, std::min((items + 255) / 256, (long long)sms * 32));
            auto launch = [&] {
                if (s.stride == 1) ck_dw3x3_forward_s1<<<grid, 256>>>(x, w, y, g);
                else ck_dw3x3_forward_s2<<<grid, 256>>>(x, w, y, g);
            };
            LAB_CHECK(cudaMemset(y, 0xff, outN * 4));
            launch();
            LAB_CHECK(cudaDeviceSynchronize());
            check("strip", y, ref, outN);
            if (s.timed) lab_report("strip (ck_dw3x3_forward_s*)", lab_time(launch), bytes);
        }
        // The band kernel (what 10 × 10 to 27 × 27 runs today), units as depthwiseBands makes them.
        if (s.h * s.w >= 100 && s.h * s.w <= 4096) {
            int perUnit = std::max(1, 4096 / (s.h * s.w));
            perUnit = (int)std::min<long long>(perUnit, std::max(1ll, planes / (4 * sms)));
            const int units = (int)((planes + perUnit - 1) / perUnit);
            const int shared = (perUnit * s.h * s.w + 6) / 4 * 16;
            auto launch = [&] {
                if (s.stride == 1) ck_dw3x3_band_forward_s1<<<units, 256, shared>>>(x, w, y, g, perUnit, oh, 1);
                else ck_dw3x3_band_forward_s2<<<units, 256, shared>>>(x, w, y, g, perUnit, oh, 1);
            };
            LAB_CHECK(cudaMemset(y, 0xff, outN * 4));
            launch();
            LAB_CHECK(cudaDeviceSynchronize());
            check("band", y, ref, outN);
            if (s.timed) {
                char name[64];
                snprintf(name, sizeof name, "band (P=%d)", perUnit);
                lab_report(name, lab_time(launch), bytes);
            }
        }
        // The new staged-both-ways kernel over a range of planes per unit.
        for (int target : {1568, 3136, 4704, 6272}) {
            const int perUnit = std::max(1, target / (s.h * s.w));
            const int units = (int)((planes + perUnit - 1) / perUnit);
            const int items = perUnit * oh * ((ow + DW_SEG - 1) / DW_SEG);
            const int block = std::min(256, std::max(32, (items + 31) / 32 * 32));
            const int shared = ((perUnit * s.h * s.w + 3) / 4 + 1 + (perUnit * oh * ow + 3) / 4 + 1) * 16 + perUnit * 36;
            if (shared > 48 * 1024) continue;
            auto launch = [&] {
                if (s.stride == 1) ck_dw3x3_planes_forward_s1<<<units, block, shared>>>(x, w, y, g, perUnit);
                else ck_dw3x3_planes_forward_s2<<<units, block, shared>>>(x, w, y, g, perUnit);
            };
            LAB_CHECK(cudaMemset(y, 0xff, outN * 4));
            launch();
            LAB_CHECK(cudaDeviceSynchronize());
            char name[64];
            snprintf(name, sizeof name, "planes (P=%d, block %d, %d B)", perUnit, block, shared);
            check(name, y, ref, outN);
            if (s.timed) lab_report(name, lab_time(launch), bytes);
            if (!s.timed) break;
        }
        // The direct variant (stride 1): no shared memory.
        if (s.stride == 1) {
            const long long items = planes * oh * ((ow + DW_SEG - 1) / DW_SEG);
            for (int block : {128, 256}) {
                const int grid = (int)((items + block - 1) / block);
                auto launch = [&] { ck_dw3x3_planes_forward_direct_s1<<<grid, block>>>(x, w, y, g); };
                LAB_CHECK(cudaMemset(y, 0xff, outN * 4));
                launch();
                LAB_CHECK(cudaDeviceSynchronize());
                char name[64];
                snprintf(name, sizeof name, "direct (block %d)", block);
                check(name, y, ref, outN);
                if (s.timed) lab_report(name, lab_time(launch), bytes);
            }
        }
        if (s.timed) {
            float* copy = lab_alloc(inN);
            lab_report("device copy of the input", lab_time([&] { cudaMemcpyAsync(copy, x, inN * 4, cudaMemcpyDeviceToDevice); }), 8.0 * inN);
            cudaFree(copy);
        }
        cudaFree(x); cudaFree(w); cudaFree(ref); cudaFree(y);
    }
    printf("%s: %d failures\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
