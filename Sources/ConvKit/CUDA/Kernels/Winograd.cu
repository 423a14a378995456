// Winograd F(2×2, r×r) convolution for r = 3 and 5: the transforms around the α² GEMMs (cuBLAS)
// that do the work, α = r + 1. The algorithm, the layouts and the matrices Bᵀ, G and Aᵀ are
// described in WinogradTiling.swift (the tables below are the same numbers); CUDAWinogradConv.swift
// launches these kernels, `_r3` or `_r5`.
//
// Every matrix is [ξ][row][column] with ξ the position in the α×α transformed tile, so the
// threads of a warp, which take consecutive tiles (or channels), read and write consecutive
// addresses of each ξ. The weight gradient splits the chunk's tiles into `splits` ranges of
// `splitTiles` for more GEMMs in its batch: V and Ŷ are then [split][ξ][row][splitTiles], and
// the tiles past the chunk's last (padding of the last range) are zero. Indices inside one chunk
// fit 32 bits (the Swift side bounds the chunk); offsets into the NCHW tensors are 64-bit.
// The transforms are fully unrolled products with constant tables, so the zeros fold away.
#include "Common.cuh"

template <int R> struct CkWino;

// F(2, 3): points 0, 1, −1.
template <> struct CkWino<3> {
    static constexpr int A = 4;
    __device__ static constexpr float bt(int i, int j) {
        constexpr float m[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
        return m[i][j];
    }
    __device__ static constexpr float g(int i, int j) {
        constexpr float m[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
        return m[i][j];
    }
    __device__ static constexpr float at(int i, int j) {
        constexpr float m[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
        return m[i][j];
    }
};

// F(2, 5): points 0, 1, −1, 2, −1/2.
template <> struct CkWino<5> {
    static constexpr int A = 6;
    __device__ static constexpr float bt(int i, int j) {
        constexpr float m[6][6] = {{1, 1.5f, -2, -1.5f, 1, 0},  {0, -1, -2.5f, -0.5f, 1, 0}, {0, 1, 0.5f, -2.5f, 1, 0},
                                   {0, -0.5f, -1, 0.5f, 1, 0}, {0, 2, -1, -2, 1, 0},       {0, 1, 1.5f, -2, -1.5f, 1}};
        return m[i][j];
    }
    __device__ static constexpr float g(int i, int j) {
        constexpr float t = 1.0f / 3.0f, f = 1.0f / 15.0f;
        constexpr float m[6][5] = {{1, 0, 0, 0, 0},
                                   {-t, -t, -t, -t, -t},
                                   {t, -t, t, -t, t},
                                   {f, 2 * f, 4 * f, 8 * f, 16 * f},
                                   {-16 * f, 8 * f, -4 * f, 2 * f, -f},
                                   {0, 0, 0, 0, 1}};
        return m[i][j];
    }
    __device__ static constexpr float at(int i, int j) {
        constexpr float m[2][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -0.5f, 1}};
        return m[i][j];
    }
};

// One chunk of images of a stride-1 r×r convolution (the order of winogradShape in Swift).
struct CkWinoShape {
    i64 inChannels, inHeight, inWidth;
    i64 outChannels, outHeight, outWidth;
    i64 padTop, padLeft;
    i64 tileColumns, tilesPerImage;
    i64 firstImage, images;
    i64 splits, splitTiles;  // the tile ranges of V and Ŷ (1 and the chunk's tiles but in the weight gradient)
};

// Tile t of a chunk: its image within the chunk and its top-left output position.
struct CkWinoTile {
    int image, y0, x0;
};
static __device__ __forceinline__ CkWinoTile ck_wino_tile(int t, const CkWinoShape& s) {
    const int perImage = (int)s.tilesPerImage, columns = (int)s.tileColumns;
    const int image = t / perImage, r = t - image * perImage, row = r / columns;
    return {image, 2 * row, 2 * (r - row * columns)};
}

// Offset of (ξ, row, tile) in a [split][ξ][row][splitTiles] matrix of `rows` rows and `positions` ξ.
static __device__ __forceinline__ int ck_wino_at(int xi, int row, int tile, int rows, int splitTiles, int positions) {
    const int split = tile / splitTiles;
    return ((split * positions + xi) * rows + row) * splitTiles + (tile - split * splitTiles);
}

// U[ξ][k][c] = (G g Gᵀ)[ξ] for every r×r filter g = weight[k][c]. With `flipped` (the input
// gradient) the filter is rotated by 180° and stored at U[ξ][c][k].
template <int R>
static __device__ void ck_wino_filter(const float* __restrict__ weight, float* __restrict__ u, i64 outChannels,
                                      i64 inChannels, i64 flipped) {
    typedef CkWino<R> W;
    constexpr int A = W::A;
    const i64 count = outChannels * inChannels;
    CK_LOOP(filter, count) {
        const float* w = weight + filter * R * R;
        float f[R][R];
#pragma unroll
        for (int i = 0; i < R * R; ++i) f[i / R][i % R] = w[flipped ? R * R - 1 - i : i];
        float h[A][R];  // G f
#pragma unroll
        for (int i = 0; i < A; ++i)
#pragma unroll
            for (int j = 0; j < R; ++j) {
                float sum = 0.0f;
#pragma unroll
                for (int a = 0; a < R; ++a) sum += W::g(i, a) * f[a][j];
                h[i][j] = sum;
            }
        const i64 k = filter / inChannels, c = filter - k * inChannels;
        float* out = u + (flipped ? c * outChannels + k : filter);
#pragma unroll
        for (int i = 0; i < A; ++i)
#pragma unroll
            for (int j = 0; j < A; ++j) {  // (G f) Gᵀ
                float sum = 0.0f;
#pragma unroll
                for (int b = 0; b < R; ++b) sum += h[i][b] * W::g(j, b);
                out[(i * A + j) * count] = sum;
            }
    }
}

// V[ξ][c][t] = (Bᵀ d B)[ξ] for the α×α input tile d under output tile t (zero outside the input).
template <int R>
static __device__ void ck_wino_input(const float* __restrict__ input, float* __restrict__ v, CkWinoShape s) {
    typedef CkWino<R> W;
    constexpr int A = W::A;
    const int tiles = (int)(s.images * s.tilesPerImage), height = (int)s.inHeight, width = (int)s.inWidth;
    const int rows = (int)s.inChannels, splitTiles = (int)s.splitTiles, padded = (int)s.splits * splitTiles;
    const int total = rows * padded, stride = rows * splitTiles;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const int c = i / padded, t = i - c * padded;
        const CkWinoTile tile = ck_wino_tile(t, s);
        const int y0 = tile.y0 - (int)s.padTop, x0 = tile.x0 - (int)s.padLeft;
        const float* plane = input + ((s.firstImage + tile.image) * s.inChannels + c) * s.inHeight * s.inWidth;
        const bool inside = t < tiles;
        float d[A][A];
#pragma unroll
        for (int a = 0; a < A; ++a) {
            const int y = y0 + a;
#pragma unroll
            for (int b = 0; b < A; ++b) {
                const int x = x0 + b;
                d[a][b] = (inside && y >= 0 && y < height && x >= 0 && x < width) ? __ldg(plane + y * width + x) : 0.0f;
            }
        }
        float e[A][A];  // Bᵀ d
#pragma unroll
        for (int a = 0; a < A; ++a)
#pragma unroll
            for (int b = 0; b < A; ++b) {
                float sum = 0.0f;
#pragma unroll
                for (int q = 0; q < A; ++q) sum += W::bt(a, q) * d[q][b];
                e[a][b] = sum;
            }
        float* out = v + ck_wino_at(0, c, t, rows, splitTiles, A * A);
#pragma unroll
        for (int a = 0; a < A; ++a)
#pragma unroll
            for (int b = 0; b < A; ++b) {  // (Bᵀ d) B
                float sum = 0.0f;
#pragma unroll
                for (int q = 0; q < A; ++q) sum += e[a][q] * W::bt(b, q);
                out[(a * A + b) * stride] = sum;
            }
    }
}

// The output tile Aᵀ M A of every tile t and output channel k (M is [ξ][k][t], one range of
// tiles); rows and columns of the tile beyond the plane are dropped.
template <int R>
static __device__ void ck_wino_output(const float* __restrict__ m, float* __restrict__ output, CkWinoShape s) {
    typedef CkWino<R> W;
    constexpr int A = W::A;
    const int tiles = (int)(s.images * s.tilesPerImage), height = (int)s.outHeight, width = (int)s.outWidth;
    const int total = (int)s.outChannels * tiles, stride = total;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const int k = i / tiles, t = i - k * tiles;
        const CkWinoTile tile = ck_wino_tile(t, s);
        const int y0 = tile.y0, x0 = tile.x0;
        float e[2][A];  // Aᵀ M
#pragma unroll
        for (int b = 0; b < A; ++b) {
            float column[A];
#pragma unroll
            for (int a = 0; a < A; ++a) column[a] = m[(a * A + b) * stride + i];
#pragma unroll
            for (int row = 0; row < 2; ++row) {
                float sum = 0.0f;
#pragma unroll
                for (int a = 0; a < A; ++a) sum += W::at(row, a) * column[a];
                e[row][b] = sum;
            }
        }
        float* plane = output + ((s.firstImage + tile.image) * s.outChannels + k) * s.outHeight * s.outWidth;
#pragma unroll
        for (int row = 0; row < 2; ++row) {  // (Aᵀ M) A
            if (y0 + row >= height) break;
            float* line = plane + (y0 + row) * width + x0;
#pragma unroll
            for (int col = 0; col < 2; ++col) {
                float sum = 0.0f;
#pragma unroll
                for (int b = 0; b < A; ++b) sum += e[row][b] * W::at(col, b);
                if (x0 + col < width) line[col] = sum;
            }
        }
    }
}

// Ŷ[ξ][k][t] = (A dY Aᵀ)[ξ] for the 2×2 output-gradient tile of every tile t (zero beyond the plane).
template <int R>
static __device__ void ck_wino_grad_output(const float* __restrict__ gradOutput, float* __restrict__ yhat, CkWinoShape s) {
    typedef CkWino<R> W;
    constexpr int A = W::A;
    const int tiles = (int)(s.images * s.tilesPerImage), height = (int)s.outHeight, width = (int)s.outWidth;
    const int rows = (int)s.outChannels, splitTiles = (int)s.splitTiles, padded = (int)s.splits * splitTiles;
    const int total = rows * padded, stride = rows * splitTiles;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const int k = i / padded, t = i - k * padded;
        const CkWinoTile tile = ck_wino_tile(t, s);
        const int y0 = tile.y0, x0 = tile.x0;
        const float* plane = gradOutput + ((s.firstImage + tile.image) * s.outChannels + k) * s.outHeight * s.outWidth;
        const bool inside = t < tiles;
        float dy[2][2];
#pragma unroll
        for (int a = 0; a < 2; ++a)
#pragma unroll
            for (int b = 0; b < 2; ++b)
                dy[a][b] = (inside && y0 + a < height && x0 + b < width) ? __ldg(plane + (y0 + a) * width + x0 + b) : 0.0f;
        float p[A][2];  // A dY (A is Aᵀ transposed)
#pragma unroll
        for (int a = 0; a < A; ++a)
#pragma unroll
            for (int b = 0; b < 2; ++b) p[a][b] = W::at(0, a) * dy[0][b] + W::at(1, a) * dy[1][b];
        float* out = yhat + ck_wino_at(0, k, t, rows, splitTiles, A * A);
#pragma unroll
        for (int a = 0; a < A; ++a)
#pragma unroll
            for (int b = 0; b < A; ++b) out[(a * A + b) * stride] = p[a][0] * W::at(0, b) + p[a][1] * W::at(1, b);
    }
}

// dW[k][c] = Gᵀ dU[·][k][c] G (r×r) for every filter (dU is [ξ][k][c]).
template <int R>
static __device__ void ck_wino_filter_grad(const float* __restrict__ du, float* __restrict__ gradWeight,
                                           i64 outChannels, i64 inChannels) {
    typedef CkWino<R> W;
    constexpr int A = W::A;
    const i64 count = outChannels * inChannels;
    CK_LOOP(filter, count) {
        float t[R][A];  // Gᵀ dU
#pragma unroll
        for (int col = 0; col < A; ++col) {
            float column[A];
#pragma unroll
            for (int a = 0; a < A; ++a) column[a] = du[(a * A + col) * count + filter];
#pragma unroll
            for (int row = 0; row < R; ++row) {
                float sum = 0.0f;
#pragma unroll
                for (int a = 0; a < A; ++a) sum += W::g(a, row) * column[a];
                t[row][col] = sum;
            }
        }
        float* w = gradWeight + filter * R * R;
#pragma unroll
        for (int row = 0; row < R; ++row)
#pragma unroll
            for (int col = 0; col < R; ++col) {  // (Gᵀ dU) G
                float sum = 0.0f;
#pragma unroll
                for (int b = 0; b < A; ++b) sum += t[row][b] * W::g(b, col);
                w[row * R + col] = sum;
            }
    }
}

#define CK_WINO_KERNELS(R)                                                                                        \
    extern "C" __global__ void ck_wino_filter_r##R(const float* __restrict__ weight, float* __restrict__ u,      \
                                                   i64 outChannels, i64 inChannels, i64 flipped) {              \
        ck_wino_filter<R>(weight, u, outChannels, inChannels, flipped);                                          \
    }                                                                                                             \
    extern "C" __global__ void ck_wino_input_r##R(const float* __restrict__ input, float* __restrict__ v,        \
                                                  CkWinoShape s) {                                               \
        ck_wino_input<R>(input, v, s);                                                                            \
    }                                                                                                             \
    extern "C" __global__ void ck_wino_output_r##R(const float* __restrict__ m, float* __restrict__ output,      \
                                                   CkWinoShape s) {                                              \
        ck_wino_output<R>(m, output, s);                                                                          \
    }                                                                                                             \
    extern "C" __global__ void ck_wino_grad_output_r##R(const float* __restrict__ gradOutput,                    \
                                                        float* __restrict__ yhat, CkWinoShape s) {               \
        ck_wino_grad_output<R>(gradOutput, yhat, s);                                                              \
    }                                                                                                             \
    extern "C" __global__ void ck_wino_filter_grad_r##R(const float* __restrict__ du, float* __restrict__ gradWeight, \
                                                        i64 outChannels, i64 inChannels) {                       \
        ck_wino_filter_grad<R>(du, gradWeight, outChannels, inChannels);                                          \
    }

CK_WINO_KERNELS(3)
CK_WINO_KERNELS(5)

// du[j] = (accumulate ? du[j] : 0) + Σ_split partials[split][j] over the weight gradient's tile
// ranges, in split order (Float64), for the `count` = α²·K·C values of dU.
extern "C" __global__ void ck_wino_sum_splits(const float* __restrict__ partials, float* __restrict__ du, i64 count,
                                              i64 splits, i64 accumulate) {
    CK_LOOP(j, count) {
        double total = accumulate ? (double)du[j] : 0.0;
        for (i64 split = 0; split < splits; ++split) total += (double)partials[split * count + j];
        du[j] = (float)total;
    }
}
