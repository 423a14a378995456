// Shared helpers of the kernel lab (scripts/kernel_lab): timing with CUDA events, deterministic
// inputs, bitwise comparison. Host code for nvcc, not part of the library.
#pragma once
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>
#include <cuda_runtime.h>

#define LAB_CHECK(call)                                                                          \
    do {                                                                                         \
        cudaError_t e_ = (call);                                                                 \
        if (e_ != cudaSuccess) {                                                                 \
            fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            exit(1);                                                                             \
        }                                                                                        \
    } while (0)

// x[i] = a hash of (seed, i) in [-1, 1), rounded to multiples of 1/64 when `ties` (equal values
// test the tie rules); with `specials`, about one value in 997 is NaN and one in 991 is -inf.
__global__ void lab_fill(float* x, long long n, unsigned seed, int ties, int specials) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)blockDim.x * gridDim.x) {
        unsigned h = (unsigned)i * 2654435761u ^ seed * 40503u;
        h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
        float v = (h & 0xffffff) / 8388608.0f - 1.0f;
        if (ties) v = floorf(v * 64.0f) / 64.0f;
        if (specials && i % 997 == 5) v = __int_as_float(0x7fc00000 | (h & 0xff));
        if (specials && i % 991 == 7) v = -__int_as_float(0x7f800000);
        x[i] = v;
    }
}

__global__ void lab_count_bit_mismatches(const unsigned* a, const unsigned* b, long long n, unsigned long long* count) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)blockDim.x * gridDim.x)
        if (a[i] != b[i]) atomicAdd(count, 1ull);
}

inline float* lab_alloc(long long floats) {
    float* p = nullptr;
    LAB_CHECK(cudaMalloc(&p, std::max(16ll, floats) * 4));
    return p;
}

inline void lab_random(float* x, long long n, unsigned seed, bool ties = false, bool specials = false) {
    lab_fill<<<1024, 256>>>(x, n, seed, ties, specials);
    LAB_CHECK(cudaGetLastError());
}

// Words of a and b (n 4-byte words) that differ bit for bit.
inline unsigned long long lab_mismatches(const void* a, const void* b, long long words) {
    unsigned long long* d = nullptr;
    LAB_CHECK(cudaMalloc(&d, 8));
    LAB_CHECK(cudaMemset(d, 0, 8));
    lab_count_bit_mismatches<<<1024, 256>>>((const unsigned*)a, (const unsigned*)b, words, d);
    unsigned long long h = 0;
    LAB_CHECK(cudaMemcpy(&h, d, 8, cudaMemcpyDeviceToHost));
    LAB_CHECK(cudaFree(d));
    return h;
}

// The device's multiprocessor count, after printing its name.
inline int lab_device() {
    cudaDeviceProp prop;
    LAB_CHECK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s, %d SMs\n", prop.name, prop.multiProcessorCount);
    return prop.multiProcessorCount;
}

// Counts a failure in `failures` when got and want (n 4-byte words) differ anywhere.
inline void lab_check(const char* what, const void* got, const void* want, long long words, int& failures) {
    const unsigned long long bad = lab_mismatches(got, want, words);
    if (bad) { printf("  FAIL %s: %llu of %lld words differ\n", what, bad, words); ++failures; }
}

struct LabTime { float single_us, batched_us; };

// The median over `runs` of one launch between two events (as the benchmarks time an op), and the
// mean of `runs` launches back to back between two events (the kernel alone, launch gaps hidden).
// With LAB_PROFILE set (for Nsight Compute) each kernel launches once, untimed.
inline LabTime lab_time(const std::function<void()>& launch, int runs = 25) {
    if (getenv("LAB_PROFILE")) {
        launch();
        LAB_CHECK(cudaDeviceSynchronize());
        return {0, 0};
    }
    cudaEvent_t a, b;
    LAB_CHECK(cudaEventCreate(&a));
    LAB_CHECK(cudaEventCreate(&b));
    for (int i = 0; i < 3; ++i) launch();
    LAB_CHECK(cudaGetLastError());
    LAB_CHECK(cudaDeviceSynchronize());
    std::vector<float> t;
    for (int i = 0; i < runs; ++i) {
        LAB_CHECK(cudaEventRecord(a));
        launch();
        LAB_CHECK(cudaEventRecord(b));
        LAB_CHECK(cudaEventSynchronize(b));
        float ms = 0;
        LAB_CHECK(cudaEventElapsedTime(&ms, a, b));
        t.push_back(ms * 1000);
    }
    std::sort(t.begin(), t.end());
    LAB_CHECK(cudaEventRecord(a));
    for (int i = 0; i < runs; ++i) launch();
    LAB_CHECK(cudaEventRecord(b));
    LAB_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    LAB_CHECK(cudaEventElapsedTime(&ms, a, b));
    LAB_CHECK(cudaGetLastError());
    LAB_CHECK(cudaEventDestroy(a));
    LAB_CHECK(cudaEventDestroy(b));
    return {t[t.size() / 2], ms * 1000 / runs};
}

inline void lab_report(const char* name, LabTime t, double bytes) {
    printf("  %-44s single %8.2f us %6.0f GB/s   batched %8.2f us %6.0f GB/s\n", name, t.single_us,
           bytes / t.single_us / 1e3, t.batched_us, bytes / t.batched_us / 1e3);
}
