// Winograd F(2×2, 3×3) convolution: the transforms around the 16 GEMMs (cuBLAS) that do the
// work. The algorithm, the layouts and the matrices Bᵀ, G and Aᵀ are described in
// WinogradTiling.swift; CUDAWinogradConv.swift launches these kernels.
//
// Every matrix is [ξ][row][column] with ξ the position in the 4×4 transformed tile, so the
// threads of a warp, which take consecutive tiles (or channels), read and write consecutive
// addresses of each ξ. The weight gradient splits the chunk's tiles into `splits` ranges of
// `splitTiles` for more GEMMs in its batch: V and Ŷ are then [split][ξ][row][splitTiles], and
// the tiles past the chunk's last (padding of the last range) are zero. Indices inside one chunk
// fit 32 bits (the Swift side bounds the chunk); offsets into the NCHW tensors are 64-bit.
#include "Common.cuh"

// One chunk of images of a stride-1 3×3 convolution (the order of WinogradShape in Swift).
struct CkWinoShape {
    i64 inChannels, inHeight, inWidth;
    i64 outChannels, outHeight, outWidth;
    i64 padTop, padLeft;
    i64 tileColumns, tilesPerImage;
    i64 firstImage, images;
    i64 splits, splitTiles;  // the tile ranges of V and Ŷ (1 and the chunk's tiles but in the weight gradient)
};

// Offset of (ξ, row, tile) in a [split][ξ][row][splitTiles] matrix of `rows` rows.
static __device__ __forceinline__ int ck_wino_at(int xi, int row, int tile, int rows, int splitTiles) {
    const int split = tile / splitTiles;
    return ((split * 16 + xi) * rows + row) * splitTiles + (tile - split * splitTiles);
}

// U[ξ][k][c] = (G g Gᵀ)[ξ] for every 3×3 filter g = weight[k][c]. With `flipped` (the input
// gradient) the filter is rotated by 180° and stored at U[ξ][c][k].
extern "C" __global__ void ck_wino_filter(const float* __restrict__ weight, float* __restrict__ u,
                                          i64 outChannels, i64 inChannels, i64 flipped) {
    const i64 count = outChannels * inChannels;
    CK_LOOP(filter, count) {
        const float* w = weight + filter * 9;
        float f[9];
#pragma unroll
        for (int i = 0; i < 9; ++i) f[i] = w[flipped ? 8 - i : i];
        float h[4][3];  // G f
#pragma unroll
        for (int col = 0; col < 3; ++col) {
            h[0][col] = f[col];
            h[1][col] = 0.5f * (f[col] + f[3 + col] + f[6 + col]);
            h[2][col] = 0.5f * (f[col] - f[3 + col] + f[6 + col]);
            h[3][col] = f[6 + col];
        }
        const i64 k = filter / inChannels, c = filter - k * inChannels;
        float* out = u + (flipped ? c * outChannels + k : filter);
#pragma unroll
        for (int row = 0; row < 4; ++row) {  // (G f) Gᵀ
            out[(4 * row + 0) * count] = h[row][0];
            out[(4 * row + 1) * count] = 0.5f * (h[row][0] + h[row][1] + h[row][2]);
            out[(4 * row + 2) * count] = 0.5f * (h[row][0] - h[row][1] + h[row][2]);
            out[(4 * row + 3) * count] = h[row][2];
        }
    }
}

// V[ξ][c][t] = (Bᵀ d B)[ξ] for the 4×4 input tile d under output tile t (zero outside the input).
extern "C" __global__ void ck_wino_input(const float* __restrict__ input, float* __restrict__ v, CkWinoShape s) {
    const int tiles = (int)(s.images * s.tilesPerImage), perImage = (int)s.tilesPerImage;
    const int columns = (int)s.tileColumns, height = (int)s.inHeight, width = (int)s.inWidth;
    const int rows = (int)s.inChannels, splitTiles = (int)s.splitTiles, padded = (int)s.splits * splitTiles;
    const int total = rows * padded, stride = rows * splitTiles;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const int c = i / padded, t = i - c * padded;
        const int image = t / perImage, r = t - image * perImage;
        const int tileRow = r / columns;
        const int y0 = 2 * tileRow - (int)s.padTop, x0 = 2 * (r - tileRow * columns) - (int)s.padLeft;
        const float* plane = input + ((s.firstImage + image) * s.inChannels + c) * s.inHeight * s.inWidth;
        const bool inside = t < tiles;
        float d[4][4];
#pragma unroll
        for (int a = 0; a < 4; ++a) {
            const int y = y0 + a;
#pragma unroll
            for (int b = 0; b < 4; ++b) {
                const int x = x0 + b;
                d[a][b] = (inside && y >= 0 && y < height && x >= 0 && x < width) ? __ldg(plane + y * width + x) : 0.0f;
            }
        }
        float e[4][4];  // Bᵀ d
#pragma unroll
        for (int b = 0; b < 4; ++b) {
            e[0][b] = d[0][b] - d[2][b];
            e[1][b] = d[1][b] + d[2][b];
            e[2][b] = d[2][b] - d[1][b];
            e[3][b] = d[1][b] - d[3][b];
        }
        float* out = v + ck_wino_at(0, c, t, rows, splitTiles);
#pragma unroll
        for (int a = 0; a < 4; ++a) {  // (Bᵀ d) B
            out[(4 * a + 0) * stride] = e[a][0] - e[a][2];
            out[(4 * a + 1) * stride] = e[a][1] + e[a][2];
            out[(4 * a + 2) * stride] = e[a][2] - e[a][1];
            out[(4 * a + 3) * stride] = e[a][1] - e[a][3];
        }
    }
}

// The output tile Aᵀ M A of every tile t and output channel k (M is [ξ][k][t], one range of
// tiles); rows and columns of the tile beyond the plane are dropped.
extern "C" __global__ void ck_wino_output(const float* __restrict__ m, float* __restrict__ output, CkWinoShape s) {
    const int tiles = (int)(s.images * s.tilesPerImage), perImage = (int)s.tilesPerImage;
    const int columns = (int)s.tileColumns, height = (int)s.outHeight, width = (int)s.outWidth;
    const int total = (int)s.outChannels * tiles, stride = total;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const int k = i / tiles, t = i - k * tiles;
        const int image = t / perImage, r = t - image * perImage;
        const int tileRow = r / columns;
        const int y0 = 2 * tileRow, x0 = 2 * (r - tileRow * columns);
        float e[2][4];  // Aᵀ M
#pragma unroll
        for (int b = 0; b < 4; ++b) {
            const float m0 = m[b * stride + i], m1 = m[(4 + b) * stride + i];
            const float m2 = m[(8 + b) * stride + i], m3 = m[(12 + b) * stride + i];
            e[0][b] = m0 + m1 + m2;
            e[1][b] = m1 - m2 - m3;
        }
        float* plane = output + ((s.firstImage + image) * s.outChannels + k) * s.outHeight * s.outWidth;
#pragma unroll
        for (int row = 0; row < 2; ++row) {  // (Aᵀ M) A
            if (y0 + row >= height) break;
            float* line = plane + (y0 + row) * width + x0;
            line[0] = e[row][0] + e[row][1] + e[row][2];
            if (x0 + 1 < width) line[1] = e[row][1] - e[row][2] - e[row][3];
        }
    }
}

// Ŷ[ξ][k][t] = (A dY Aᵀ)[ξ] for the 2×2 output-gradient tile of every tile t (zero beyond the plane).
extern "C" __global__ void ck_wino_grad_output(const float* __restrict__ gradOutput, float* __restrict__ yhat,
                                               CkWinoShape s) {
    const int tiles = (int)(s.images * s.tilesPerImage), perImage = (int)s.tilesPerImage;
    const int columns = (int)s.tileColumns, height = (int)s.outHeight, width = (int)s.outWidth;
    const int rows = (int)s.outChannels, splitTiles = (int)s.splitTiles, padded = (int)s.splits * splitTiles;
    const int total = rows * padded, stride = rows * splitTiles;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const int k = i / padded, t = i - k * padded;
        const int image = t / perImage, r = t - image * perImage;
        const int tileRow = r / columns;
        const int y0 = 2 * tileRow, x0 = 2 * (r - tileRow * columns);
        const float* plane = gradOutput + ((s.firstImage + image) * s.outChannels + k) * s.outHeight * s.outWidth;
        const bool inside = t < tiles;
        float dy[2][2];
#pragma unroll
        for (int a = 0; a < 2; ++a)
#pragma unroll
            for (int b = 0; b < 2; ++b)
                dy[a][b] = (inside && y0 + a < height && x0 + b < width) ? __ldg(plane + (y0 + a) * width + x0 + b) : 0.0f;
        // A dY: A's rows are (1, 0), (1, 1), (1, −1), (0, −1); then each row times Aᵀ.
        float p[4][2];
#pragma unroll
        for (int b = 0; b < 2; ++b) {
            p[0][b] = dy[0][b];
            p[1][b] = dy[0][b] + dy[1][b];
            p[2][b] = dy[0][b] - dy[1][b];
            p[3][b] = -dy[1][b];
        }
        float* out = yhat + ck_wino_at(0, k, t, rows, splitTiles);
#pragma unroll
        for (int a = 0; a < 4; ++a) {
            out[(4 * a + 0) * stride] = p[a][0];
            out[(4 * a + 1) * stride] = p[a][0] + p[a][1];
            out[(4 * a + 2) * stride] = p[a][0] - p[a][1];
            out[(4 * a + 3) * stride] = -p[a][1];
        }
    }
}

// dW[k][c] = Gᵀ dU[·][k][c] G (3×3) for every filter (dU is [ξ][k][c]).
extern "C" __global__ void ck_wino_filter_grad(const float* __restrict__ du, float* __restrict__ gradWeight,
                                               i64 outChannels, i64 inChannels) {
    const i64 count = outChannels * inChannels;
    CK_LOOP(filter, count) {
        float t[3][4];  // Gᵀ dU: Gᵀ's rows are (1, ½, ½, 0), (0, ½, −½, 0), (0, ½, ½, 1)
#pragma unroll
        for (int col = 0; col < 4; ++col) {
            const float u0 = du[col * count + filter], u1 = du[(4 + col) * count + filter];
            const float u2 = du[(8 + col) * count + filter], u3 = du[(12 + col) * count + filter];
            t[0][col] = u0 + 0.5f * (u1 + u2);
            t[1][col] = 0.5f * (u1 - u2);
            t[2][col] = 0.5f * (u1 + u2) + u3;
        }
        float* w = gradWeight + filter * 9;
#pragma unroll
        for (int row = 0; row < 3; ++row) {  // (Gᵀ dU) G
            w[3 * row + 0] = t[row][0] + 0.5f * (t[row][1] + t[row][2]);
            w[3 * row + 1] = 0.5f * (t[row][1] - t[row][2]);
            w[3 * row + 2] = 0.5f * (t[row][1] + t[row][2]) + t[row][3];
        }
    }
}

// du[j] = (accumulate ? du[j] : 0) + Σ_split partials[split][j] over the weight gradient's tile
// ranges, in split order (Float64), for the `count` = 16·K·C values of dU.
extern "C" __global__ void ck_wino_sum_splits(const float* __restrict__ partials, float* __restrict__ du, i64 count,
                                              i64 splits, i64 accumulate) {
    CK_LOOP(j, count) {
        double total = accumulate ? (double)du[j] : 0.0;
        for (i64 split = 0; split < splits; ++split) total += (double)partials[split * count + j];
        du[j] = (float)total;
    }
}
