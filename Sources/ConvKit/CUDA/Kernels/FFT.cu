// Convolution through the discrete Fourier transform: the transforms around the complex GEMMs
// (cuBLAS) that do the work. The algorithm, its conditions and the spectrum layout are described
// in FFTConvTiling.swift; CUDAFFTConv.swift launches these kernels, `_s8`, `_s16` or `_s32` for
// the S × S frame.
//
// A spectrum is float2 [f][row][column] for the S·(S/2 + 1) kept frequencies f = p·(S/2 + 1) + q.
// A block takes up to CK_FFT_GROUP planes of one row (consecutive columns), so its reads and
// writes of each frequency are one contiguous run; each warp transforms 32 / S planes at a time
// in registers, S lanes each: a thread per frame row (S-point FFT), a transpose through shared
// memory, a thread per kept column. The S-point FFTs are radix-2 decimation in time, fully unrolled, with the
// twiddles of a constant 32-point table (the same numbers as FFTConv.Twiddles on the CPU).
#include "Common.cuh"

// One launch: `images × columns` planes of `height × width` floats, contiguous, row-major, each
// covered by `tiles` frames (`across` a row of frames, `stepH × stepW` results each); spectrum
// row = image · tiles + frame (see FFTConvTiling.swift). Forward: frame (a, b) holds the plane at
// (top − a·stepH, left − b·stepW), only its first limitH × limitW rows and columns. Inverse: the
// frame's stepH × stepW results from (top, left) are the plane's from (a·stepH, b·stepW), cut at
// its edge.
struct CkFFTPlanes {
    i64 rows, columns, height, width, top, left, limitH, limitW, tiles, across, stepH, stepW;
};

// The plane of spectrum row `row`, column `column`, and where its frame starts in it.
struct CkFFTFrame {
    i64 plane;     // offset of the plane (floats)
    int h0, w0;    // the frame's first result row and column in the plane
};

__device__ __forceinline__ CkFFTFrame ck_fft_frame(const CkFFTPlanes& p, i64 row, i64 column) {
    const i64 image = row / p.tiles, tile = row % p.tiles;
    CkFFTFrame frame;
    frame.plane = (image * p.columns + column) * p.height * p.width;
    frame.h0 = (int)((tile / p.across) * p.stepH);
    frame.w0 = (int)((tile % p.across) * p.stepW);
    return frame;
}

// Planes per block: one contiguous run of CK_FFT_GROUP complex numbers per frequency.
#define CK_FFT_GROUP 16
#define CK_FFT_THREADS 256

template <int S> struct CkFFT {
    static constexpr int Q = S / 2 + 1;          // kept columns of a row's spectrum
    static constexpr int F = S * Q;              // kept frequencies
    static constexpr int LD = S + 1;             // a scratch row, padded against bank conflicts
    static constexpr int PER_WARP = 32 / S;       // planes a warp transforms at once, S lanes each
    static constexpr int SCRATCH = 2 * Q * LD;   // floats of one plane's scratch (≥ S·LD)
    static constexpr int STAGE = CK_FFT_GROUP + 1;  // float2 per frequency in the block's stage
    // Dynamic shared memory of a block: the planes' scratch, then the stage.
    static constexpr int SHARED_BYTES = (CK_FFT_THREADS / 32) * PER_WARP * SCRATCH * 4 + F * STAGE * 8;
};

// cos(2πk/32) and sin(2πk/32), k < 16.
__device__ __forceinline__ constexpr float ck_fft_cos(int k) {
    constexpr float t[16] = {1.000000000e+00f,  9.807852804e-01f,  9.238795325e-01f,  8.314696123e-01f,
                             7.071067812e-01f,  5.555702330e-01f,  3.826834324e-01f,  1.950903220e-01f,
                             6.123233996e-17f,  -1.950903220e-01f, -3.826834324e-01f, -5.555702330e-01f,
                             -7.071067812e-01f, -8.314696123e-01f, -9.238795325e-01f, -9.807852804e-01f};
    return t[k];
}
__device__ __forceinline__ constexpr float ck_fft_sin(int k) {
    constexpr float t[16] = {0.000000000e+00f, 1.950903220e-01f, 3.826834324e-01f, 5.555702330e-01f,
                             7.071067812e-01f, 8.314696123e-01f, 9.238795325e-01f, 9.807852804e-01f,
                             1.000000000e+00f, 9.807852804e-01f, 9.238795325e-01f, 8.314696123e-01f,
                             7.071067812e-01f, 5.555702330e-01f, 3.826834324e-01f, 1.950903220e-01f};
    return t[k];
}

// k with its log2(S) bits reversed.
template <int S> __device__ __forceinline__ constexpr int ck_fft_bitrev(int k) {
    int r = 0;
    for (int b = 1; b < S; b <<= 1) {
        r = (r << 1) | (k & 1);
        k >>= 1;
    }
    return r;
}

// In place, the S-point DFT of (re, im) given in bit-reversed order, out in natural order;
// INVERSE: the conjugate exponent, unscaled.
template <int S, bool INVERSE>
__device__ __forceinline__ void ck_fft(float (&re)[S], float (&im)[S]) {
    constexpr int stages = S == 8 ? 3 : S == 16 ? 4 : 5;
    static_assert(S == 8 || S == 16 || S == 32, "frames of 8, 16 or 32");
#pragma unroll
    for (int stage = 0; stage < stages; ++stage) {
        const int half = 1 << stage;
#pragma unroll
        for (int butterfly = 0; butterfly < S / 2; ++butterfly) {
            const int j = butterfly & (half - 1), a = ((butterfly >> stage) << (stage + 1)) + j, b = a + half;
            const int t = j * (16 >> stage);  // e^{∓2πi·j/(2·half)} in the 32-point table
            const float c = ck_fft_cos(t), s = INVERSE ? ck_fft_sin(t) : -ck_fft_sin(t);
            const float tr = re[b] * c - im[b] * s, ti = re[b] * s + im[b] * c;
            re[b] = re[a] - tr;
            im[b] = im[a] - ti;
            re[a] += tr;
            im[a] += ti;
        }
    }
}

// The spectra of the planes of row blockIdx.y, columns from blockIdx.x · CK_FFT_GROUP. A warp
// takes T::PER_WARP planes at once, one per S lanes (lane = sub · S + l).
template <int S>
__device__ __forceinline__ void ck_fft_forward(const float* __restrict__ planes, float2* __restrict__ spectrum,
                                               CkFFTPlanes p) {
    using T = CkFFT<S>;
    extern __shared__ float4 ck_fft_shared[];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    const int sub = lane / S, l = lane % S;
    float* scratch = (float*)ck_fft_shared + (warp * T::PER_WARP + sub) * T::SCRATCH;
    float2* stage = (float2*)((float*)ck_fft_shared + warps * T::PER_WARP * T::SCRATCH);
    const i64 row = blockIdx.y, first = (i64)blockIdx.x * CK_FFT_GROUP;
    const int group = (int)min((i64)CK_FFT_GROUP, p.columns - first);
    const int height = (int)p.height, width = (int)p.width, limitH = (int)p.limitH, limitW = (int)p.limitW;
    for (int base = warp * T::PER_WARP; base < group; base += warps * T::PER_WARP) {
        const int j = base + sub;
        const bool active = j < group;  // every lane stays for the __syncwarp()s
        if (active) {
            const CkFFTFrame frame = ck_fft_frame(p, row, first + j);
            const float* plane = planes + frame.plane;
            const int top = (int)p.top - frame.h0, left = (int)p.left - frame.w0;
            for (int index = l; index < S * S; index += S) {
                const int u = index / S, v = index % S, h = u - top, w = v - left;
                const bool inside = u < limitH && v < limitW && h >= 0 && h < height && w >= 0 && w < width;
                scratch[u * T::LD + v] = inside ? __ldg(plane + h * width + w) : 0.0f;
            }
        }
        __syncwarp();
        float re[S], im[S];
        if (active) {  // frame row l
#pragma unroll
            for (int k = 0; k < S; ++k) {
                re[k] = scratch[l * T::LD + ck_fft_bitrev<S>(k)];
                im[k] = 0.0f;
            }
            ck_fft<S, false>(re, im);
        }
        __syncwarp();
        if (active) {  // scratch[q][u]: real parts, then imaginary parts
#pragma unroll
            for (int q = 0; q < T::Q; ++q) {
                scratch[q * T::LD + l] = re[q];
                scratch[(T::Q + q) * T::LD + l] = im[q];
            }
        }
        __syncwarp();
        if (active && l < T::Q) {  // kept column l
#pragma unroll
            for (int k = 0; k < S; ++k) {
                const int u = ck_fft_bitrev<S>(k);
                re[k] = scratch[l * T::LD + u];
                im[k] = scratch[(T::Q + l) * T::LD + u];
            }
            ck_fft<S, false>(re, im);
#pragma unroll
            for (int fp = 0; fp < S; ++fp) stage[(fp * T::Q + l) * T::STAGE + j] = make_float2(re[fp], im[fp]);
        }
        __syncwarp();
    }
    __syncthreads();
    for (int index = threadIdx.x; index < T::F * CK_FFT_GROUP; index += blockDim.x) {
        const int f = index / CK_FFT_GROUP, j = index % CK_FFT_GROUP;
        if (j < group) spectrum[((i64)f * p.rows + row) * p.columns + first + j] = stage[f * T::STAGE + j];
    }
}

// The inverse: planes of row blockIdx.y, columns from blockIdx.x · CK_FFT_GROUP, from their
// spectra; the frame divided by S², its window written, plus bias[column] when `bias` is not null
// (the forward pass's output channel: the same y + b as ck_conv_add_channel_bias after it). Planes
// per warp as the forward pass.
template <int S>
__device__ __forceinline__ void ck_fft_inverse(const float2* __restrict__ spectrum, float* __restrict__ planes,
                                               const float* __restrict__ bias, CkFFTPlanes p) {
    using T = CkFFT<S>;
    extern __shared__ float4 ck_fft_shared[];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    const int sub = lane / S, l = lane % S;
    float* scratch = (float*)ck_fft_shared + (warp * T::PER_WARP + sub) * T::SCRATCH;
    float2* stage = (float2*)((float*)ck_fft_shared + warps * T::PER_WARP * T::SCRATCH);
    const i64 row = blockIdx.y, first = (i64)blockIdx.x * CK_FFT_GROUP;
    const int group = (int)min((i64)CK_FFT_GROUP, p.columns - first);
    const int height = (int)p.height, width = (int)p.width, top = (int)p.top, left = (int)p.left;
    for (int index = threadIdx.x; index < T::F * CK_FFT_GROUP; index += blockDim.x) {
        const int f = index / CK_FFT_GROUP, j = index % CK_FFT_GROUP;
        if (j < group) stage[f * T::STAGE + j] = spectrum[((i64)f * p.rows + row) * p.columns + first + j];
    }
    __syncthreads();
    constexpr float scale = 1.0f / (S * S);
    for (int base = warp * T::PER_WARP; base < group; base += warps * T::PER_WARP) {
        const int j = base + sub;
        const bool active = j < group;  // every lane stays for the __syncwarp()s
        float re[S], im[S];
        if (active && l < T::Q) {  // kept column l, inverse over the rows
#pragma unroll
            for (int k = 0; k < S; ++k) {
                const float2 value = stage[(ck_fft_bitrev<S>(k) * T::Q + l) * T::STAGE + j];
                re[k] = value.x;
                im[k] = value.y;
            }
            ck_fft<S, true>(re, im);
#pragma unroll
            for (int u = 0; u < S; ++u) {
                scratch[l * T::LD + u] = re[u];
                scratch[(T::Q + l) * T::LD + u] = im[u];
            }
        }
        __syncwarp();
        if (active) {  // frame row l: columns past S/2 are the conjugates of S − q
#pragma unroll
            for (int k = 0; k < S; ++k) {
                const int q = ck_fft_bitrev<S>(k);
                if (q < T::Q) {
                    re[k] = scratch[q * T::LD + l];
                    im[k] = scratch[(T::Q + q) * T::LD + l];
                } else {
                    re[k] = scratch[(S - q) * T::LD + l];
                    im[k] = -scratch[(T::Q + S - q) * T::LD + l];
                }
            }
            ck_fft<S, true>(re, im);
        }
        __syncwarp();
        if (active) {
#pragma unroll
            for (int v = 0; v < S; ++v) scratch[l * T::LD + v] = re[v] * scale;
        }
        __syncwarp();
        if (active) {
            const CkFFTFrame frame = ck_fft_frame(p, row, first + j);
            float* plane = planes + frame.plane;
            const int rows = min((int)p.stepH, height - frame.h0), columns = min((int)p.stepW, width - frame.w0);
            const bool biased = bias != nullptr;
            const float b = biased ? __ldg(bias + first + j) : 0.0f;
            for (int index = l; index < rows * columns; index += S) {
                const int h = index / columns, w = index % columns;
                const float v = scratch[(h + top) * T::LD + w + left];
                plane[(frame.h0 + h) * width + frame.w0 + w] = biased ? v + b : v;
            }
        }
        __syncwarp();
    }
}

#define CK_FFT_KERNELS(S)                                                                                      \
    extern "C" __global__ void __launch_bounds__(CK_FFT_THREADS)                                              \
        ck_fft_forward_s##S(const float* __restrict__ planes, float2* __restrict__ spectrum, CkFFTPlanes p) { \
        ck_fft_forward<S>(planes, spectrum, p);                                                                \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(CK_FFT_THREADS)                                              \
        ck_fft_inverse_s##S(const float2* __restrict__ spectrum, float* __restrict__ planes,                  \
                            const float* __restrict__ bias, CkFFTPlanes p) {                                   \
        ck_fft_inverse<S>(spectrum, planes, bias, p);                                                          \
    }

CK_FFT_KERNELS(8)
CK_FFT_KERNELS(16)
CK_FFT_KERNELS(32)
