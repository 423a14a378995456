// Shared definitions for every ConvKit kernel file (included as "Common.cuh").
//
// Conventions: every kernel is `extern "C"` (unmangled names for cuModuleGetFunction); integer
// parameters are `long long`; element loops are grid-stride loops, so any grid size is correct and
// the launcher chooses one that fills the GPU. NVRTC compiles this with no system headers.
#pragma once

typedef long long i64;

// for (i64 i = first; i < n; i += stride): every thread of the grid takes every stride-th item.
#define CK_LOOP(i, n)                                                              \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (i64)(n);       \
         i += (i64)blockDim.x * gridDim.x)

// NaN-propagating max (fmaxf returns the number when one operand is NaN; PyTorch propagates NaN).
__device__ __forceinline__ float ck_max_nan(float a, float b) {
    return (a != a || a > b) ? a : b;
}

// The shared-memory address of `pointer` (the operand form of cp.async and wgmma descriptors).
__device__ __forceinline__ unsigned ck_shared_address(const void* pointer) {
    return (unsigned)__cvta_generic_to_shared(pointer);
}

// Closes the group of this thread's cp.async copies issued since the last commit (sm_80+).
__device__ __forceinline__ void ck_cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

// Waits until at most PENDING of this thread's committed cp.async groups are still in flight.
template <int PENDING>
__device__ __forceinline__ void ck_cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(PENDING)); }

// The bits of x rounded to TF32 (to nearest, ties away from zero: cvt.rna; sm_80+).
__device__ __forceinline__ unsigned ck_tf32_bits(float x) {
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
    return r;
}

// Copies src[0, n) into shared memory at `stage4` (room for ⌈n / 4⌉ + 1 float4); returns s with
// s[k] = src[k] (s lies 0–3 floats into the buffer: src's misalignment). The whole 16-byte quads
// inside src go as `cp.async` copies (global to shared memory, no registers), which a thread issues
// back to back instead of waiting for each load before its store; the at most 3 ragged quads (the
// first, when src is not aligned, and the last) go a float per thread by threads 0–11 (blockDim.x
// ≥ 12). A thread waits for its own copies before it returns. No barrier: the caller synchronises
// before (earlier readers of the buffer) and after (before reading s). `src` must not change
// during the kernel.
__device__ __forceinline__ const float* ck_stage_floats(const float* __restrict__ src, int n, float4* stage4) {
    float* stage = (float*)stage4;
    const int shift = (int)(((unsigned long long)src >> 2) & 3);  // stage[k + shift] = src[k]
    const int quads = (n + shift + 3) >> 2;
    const float4* aligned = (const float4*)(src - shift);
    const int qa = shift != 0 ? 1 : 0, qb = max(qa, (n + shift) >> 2);  // quads [qa, qb) lie inside src
#if __CUDA_ARCH__ >= 800
    const unsigned base = (unsigned)__cvta_generic_to_shared(stage4);
#endif
#pragma unroll 4
    for (int q = qa + (int)threadIdx.x; q < qb; q += (int)blockDim.x) {
#if __CUDA_ARCH__ >= 800
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(base + 16u * (unsigned)q), "l"(aligned + q));
#else  // no cp.async before Ampere: plain loads
        stage4[q] = __ldg(aligned + q);
#endif
    }
    if (threadIdx.x < 12) {
        const int slot = (int)threadIdx.x >> 2, t = (int)threadIdx.x & 3;
        const int q = slot == 0 ? (qa == 1 ? 0 : -1) : qb + slot - 1;
        const int k = 4 * q - shift + t;
        if (q >= 0 && q < quads && k >= 0 && k < n) stage[4 * q + t] = __ldg(src + k);
    }
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_all;\n" ::);
#endif
    return stage + shift;
}

// Copies s[0, n) from shared memory to dst[0, n), the reverse of ck_stage_floats: `s` must lie
// as far into its float4 buffer `stage4` as dst is past a 16-byte boundary (s = (float*)stage4 +
// ((dst >> 2) & 3)), so every whole 16-byte quad of dst is one vector store; the at most 2 ragged
// quads go a float at a time. The caller synchronises before (the writers of s are done).
__device__ __forceinline__ void ck_unstage_floats(float* __restrict__ dst, int n, const float4* stage4) {
    const float* stage = (const float*)stage4;
    const int shift = (int)(((unsigned long long)dst >> 2) & 3);  // stage[k + shift] holds dst[k]
    float4* aligned = (float4*)(dst - shift);
    const int qa = shift != 0 ? 1 : 0, qb = max(qa, (n + shift) >> 2);  // quads [qa, qb) lie inside dst
    for (int q = qa + (int)threadIdx.x; q < qb; q += (int)blockDim.x) aligned[q] = stage4[q];
    // the ragged ends: dst[k] for k < 4·qa − shift and for k ≥ 4·qb − shift
    const int head = min(n, 4 * qa - shift), tail = max(head, min(n, 4 * qb - shift));
    for (int k = (int)threadIdx.x; k < head + (n - tail); k += (int)blockDim.x) {
        const int e = k < head ? k : tail + (k - head);
        dst[e] = stage[e + shift];
    }
}

// Sum of `value` over a block of blockDim.x threads (a power of two, at most 1024), returned to
// every thread. `scratch` holds blockDim.x / 32 floats of shared memory. The order of additions is
// fixed by the thread layout, so the result is bitwise reproducible.
__device__ __forceinline__ float ck_block_sum(float value, float* scratch) {
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) scratch[warp] = value;
    __syncthreads();
    value = lane < warps ? scratch[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
    return value;
}

// The same for doubles (`scratch` holds blockDim.x / 32 doubles).
__device__ __forceinline__ double ck_block_sum_double(double value, double* scratch) {
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) scratch[warp] = value;
    __syncthreads();
    value = lane < warps ? scratch[lane] : 0.0;
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
    return value;
}

// NaN-propagating max over a block, returned to every thread (`scratch`: blockDim.x / 32 floats).
__device__ __forceinline__ float ck_block_max(float value, float* scratch) {
    for (int offset = 16; offset > 0; offset >>= 1) value = ck_max_nan(value, __shfl_xor_sync(0xffffffffu, value, offset));
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) scratch[warp] = value;
    __syncthreads();
    value = lane < warps ? scratch[lane] : -__int_as_float(0x7f800000);
    for (int offset = 16; offset > 0; offset >>= 1) value = ck_max_nan(value, __shfl_xor_sync(0xffffffffu, value, offset));
    return value;
}

// Philox-4x32-10, bit for bit the same as `Philox.block(seed:counter:)` in Swift: counter
// (lo, hi, 0, 0), key (seed lo, seed hi).
__device__ __forceinline__ uint4 ck_philox(unsigned long long seed, unsigned long long counter) {
    unsigned int c0 = (unsigned int)counter, c1 = (unsigned int)(counter >> 32), c2 = 0u, c3 = 0u;
    unsigned int k0 = (unsigned int)seed, k1 = (unsigned int)(seed >> 32);
    for (int round = 0; round < 10; ++round) {
        const unsigned int hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        const unsigned int hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        const unsigned int n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c1 = lo1; c3 = lo0; c0 = n0; c2 = n2;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    return make_uint4(c0, c1, c2, c3);
}

// 32 random bits to a float in [0, 1) with 24 bits of precision, as `Philox.unitFloat`.
__device__ __forceinline__ float ck_unit_float(unsigned int bits) {
    return (float)(bits >> 8) * (1.0f / 16777216.0f);
}
