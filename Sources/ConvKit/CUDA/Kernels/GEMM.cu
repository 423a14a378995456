// GEMM kernels: the built-in tiled SGEMM used when cuBLAS is not loaded.
#include "Common.cuh"

// Tile sizes: a block of 256 threads computes a 64×64 tile of C, each thread a 4×4 micro-tile
// (rows ty + 16·i, columns tx + 16·j, so shared-memory reads are broadcasts or conflict-free and
// the stores of C are coalesced), stepping through K 16 at a time.
#define CK_GEMM_BM 64
#define CK_GEMM_BN 64
#define CK_GEMM_BK 16
// Row padding of the shared tiles: a row pitch of 66 floats keeps the transposing stores free of
// bank conflicts.
#define CK_GEMM_PAD 2

// Row-major strided-batched SGEMM: for p in [0, batch),
//   C[p] = alpha · op(A[p]) · op(B[p]) + beta · C[p]
// with C[p] m×n (row pitch ldc), op(A[p]) m×k (A stored k×m when transA), op(B[p]) k×n (B stored
// n×k when transB). With beta == 0, C is only written (its old contents, NaN included, are
// ignored). Edges are bounds-checked (out-of-range operand elements load as 0). Tiles and batch
// entries beyond the grid are covered by grid-stride loops, so any grid size is correct.
extern "C" __global__ void __launch_bounds__(256)
ck_sgemm(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C, i64 m, i64 n, i64 k,
         i64 lda, i64 ldb, i64 ldc, i64 strideA, i64 strideB, i64 strideC, i64 batch, i64 transA, i64 transB,
         float alpha, float beta) {
    __shared__ float As[CK_GEMM_BK][CK_GEMM_BM + CK_GEMM_PAD];  // As[kk][row]
    __shared__ float Bs[CK_GEMM_BK][CK_GEMM_BN + CK_GEMM_PAD];  // Bs[kk][col]
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const i64 mTiles = (m + CK_GEMM_BM - 1) / CK_GEMM_BM, nTiles = (n + CK_GEMM_BN - 1) / CK_GEMM_BN;
    for (i64 p = blockIdx.z; p < batch; p += gridDim.z) {
        const float* a = A + p * strideA;
        const float* b = B + p * strideB;
        float* c = C + p * strideC;
        for (i64 tm = blockIdx.y; tm < mTiles; tm += gridDim.y) {
            for (i64 tn = blockIdx.x; tn < nTiles; tn += gridDim.x) {
                const i64 row0 = tm * CK_GEMM_BM, col0 = tn * CK_GEMM_BN;
                float acc[4][4];
#pragma unroll
                for (int i = 0; i < 4; ++i)
#pragma unroll
                    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
                for (i64 k0 = 0; k0 < k; k0 += CK_GEMM_BK) {
                    // 64×16 of op(A) and 16×64 of op(B), 4 elements per thread; consecutive
                    // threads read consecutive addresses of whichever layout is stored.
#pragma unroll
                    for (int l = 0; l < 4; ++l) {
                        const int e = tid + l * 256;
                        int row, kk;
                        if (transA) { kk = e >> 6; row = e & 63; } else { row = e >> 4; kk = e & 15; }
                        const i64 gr = row0 + row, gk = k0 + kk;
                        float v = 0.0f;
                        if (gr < m && gk < k) v = transA ? a[gk * lda + gr] : a[gr * lda + gk];
                        As[kk][row] = v;
                    }
#pragma unroll
                    for (int l = 0; l < 4; ++l) {
                        const int e = tid + l * 256;
                        int col, kk;
                        if (transB) { col = e >> 4; kk = e & 15; } else { kk = e >> 6; col = e & 63; }
                        const i64 gc = col0 + col, gk = k0 + kk;
                        float v = 0.0f;
                        if (gc < n && gk < k) v = transB ? b[gc * ldb + gk] : b[gk * ldb + gc];
                        Bs[kk][col] = v;
                    }
                    __syncthreads();
#pragma unroll
                    for (int kk = 0; kk < CK_GEMM_BK; ++kk) {
                        float ra[4], rb[4];
#pragma unroll
                        for (int i = 0; i < 4; ++i) ra[i] = As[kk][ty + 16 * i];
#pragma unroll
                        for (int j = 0; j < 4; ++j) rb[j] = Bs[kk][tx + 16 * j];
#pragma unroll
                        for (int i = 0; i < 4; ++i)
#pragma unroll
                            for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(ra[i], rb[j], acc[i][j]);
                    }
                    __syncthreads();
                }
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const i64 gr = row0 + ty + 16 * i;
                    if (gr >= m) continue;
#pragma unroll
                    for (int j = 0; j < 4; ++j) {
                        const i64 gc = col0 + tx + 16 * j;
                        if (gc >= n) continue;
                        float* dst = c + gr * ldc + gc;
                        const float v = alpha * acc[i][j];
                        *dst = beta == 0.0f ? v : fmaf(beta, *dst, v);
                    }
                }
            }
        }
    }
}
