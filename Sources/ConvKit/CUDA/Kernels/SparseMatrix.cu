// Convolution as a sparse (CSR) matrix product, as the CPU's SparseMatrixConv: Ŵ has one row per
// output position (channel, oh, ow) of a block of `channelsPerBlock` output channels of a group
// and one column per input position (c, ih, iw) of that group; taps in the padding are not in it.
// Every block of every group has the same pattern (the host builds it once per geometry); a
// nonzero's value is W[blockFirstWeight + weightIndex[i]], read straight from the weights.
//   forward:         Y = Ŵ·X, one thread per (image, group, row), rows fastest (coalesced writes);
//   input gradient:  dX = Ŵᵀ·dY through the transposed CSR, one thread per input element,
//                    summed block after block;
//   weight gradient: each nonzero's Σ_img dY·X, then gathered onto its weight through the
//                    weight → nonzeros CSR (ascending nonzeros, Float64): no atomics.
// Structure arrays are int32 (the host checks the sizes fit).
#include "Common.cuh"

// The convolution's sizes, as Swift passes them (16 long longs, see `Conv2dGeometry.algorithmKernelArgument`).
struct SpGeometry {
    i64 n, c, h, w, co, kh, kw, sh, sw, pt, pl, dh, dw, groups, oh, ow;
};

// Y for output channels [channel0, channel0 + channels) of every group:
// y[img, group·mg + channel0 + row/ohw, row%ohw] = Σ_(i in row) W[(group·mg + channel0)·patch + weightIndex[i]] · x[img, group·cg + column[i]].
extern "C" __global__ void ck_spconv_forward(const float* __restrict__ x, const float* __restrict__ weight,
                                             float* __restrict__ y, const int* __restrict__ rowPointer,
                                             const int* __restrict__ column, const int* __restrict__ weightIndex,
                                             SpGeometry g, i64 channel0, i64 channels) {
    const i64 cg = g.c / g.groups, mg = g.co / g.groups;
    const i64 ohw = g.oh * g.ow, inPlane = g.h * g.w, patch = cg * g.kh * g.kw;
    const i64 rows = channels * ohw;
    const i64 total = g.n * g.groups * rows;
    CK_LOOP(t, total) {
        const i64 row = t % rows, rest = t / rows;
        const i64 group = rest % g.groups, image = rest / g.groups;
        const float* xGroup = x + (image * g.c + group * cg) * inPlane;
        const float* wBlock = weight + (group * mg + channel0) * patch;
        float sum = 0.0f;
        const int end = rowPointer[row + 1];
        for (int i = rowPointer[row]; i < end; ++i) sum += wBlock[weightIndex[i]] * xGroup[column[i]];
        y[(image * g.co + group * mg + channel0) * ohw + row] = sum;
    }
}

// dX = Ŵᵀ·dY: for input position q of a group, the transposed row lists the output rows that read
// it (ascending) with their weights; a partial last block uses the prefix of rows below its limit.
extern "C" __global__ void ck_spconv_backward_input(const float* __restrict__ dy, const float* __restrict__ weight,
                                                    float* __restrict__ dx, const int* __restrict__ rowPointer,
                                                    const int* __restrict__ outputRow,
                                                    const int* __restrict__ weightIndex, SpGeometry g,
                                                    i64 channelsPerBlock) {
    const i64 cg = g.c / g.groups, mg = g.co / g.groups;
    const i64 ohw = g.oh * g.ow, inPlane = g.h * g.w, patch = cg * g.kh * g.kw;
    const i64 positions = cg * inPlane;
    const i64 total = g.n * g.c * inPlane;
    CK_LOOP(t, total) {
        // t = (image·C + group·cg)·H·W + q.
        const i64 q = t % positions, rest = t / positions;
        const i64 group = rest % g.groups, image = rest / g.groups;
        const int start = rowPointer[q], end = rowPointer[q + 1];
        float accumulated = 0.0f;
        for (i64 channel0 = 0; channel0 < mg; channel0 += channelsPerBlock) {
            const i64 channels = mg - channel0 < channelsPerBlock ? mg - channel0 : channelsPerBlock;
            const int rowLimit = (int)(channels * ohw);
            const float* wBlock = weight + (group * mg + channel0) * patch;
            const float* dyBlock = dy + (image * g.co + group * mg + channel0) * ohw;
            float sum = 0.0f;
            for (int i = start; i < end && outputRow[i] < rowLimit; ++i) sum += wBlock[weightIndex[i]] * dyBlock[outputRow[i]];
            accumulated += sum;
        }
        dx[t] = accumulated;
    }
}

// products[(group − group0)·nonzeros + i] = Σ_img dy[img, row(i) of the block] · x[img, group·cg + column[i]]
// for the first `nonzeros` nonzeros of the block at channel0 and groups [group0, group0 + groupCount).
extern "C" __global__ void ck_spconv_nonzero_products(const float* __restrict__ dy, const float* __restrict__ x,
                                                      float* __restrict__ products, const int* __restrict__ rowPointer,
                                                      const int* __restrict__ column, SpGeometry g, i64 channel0,
                                                      i64 rows, i64 nonzeros, i64 group0, i64 groupCount) {
    const i64 cg = g.c / g.groups, mg = g.co / g.groups;
    const i64 ohw = g.oh * g.ow, inPlane = g.h * g.w;
    const i64 total = groupCount * nonzeros;
    CK_LOOP(t, total) {
        const i64 i = t % nonzeros, group = group0 + t / nonzeros;
        // The row holding nonzero i: the last r with rowPointer[r] <= i (empty rows are skipped over).
        i64 lo = 0, hi = rows - 1;
        while (lo < hi) {
            const i64 mid = (lo + hi + 1) >> 1;
            if ((i64)rowPointer[mid] <= i) lo = mid; else hi = mid - 1;
        }
        const float* dyRow = dy + (group * mg + channel0) * ohw + lo;
        const float* xColumn = x + group * cg * inPlane + column[i];
        const i64 dyImage = g.co * ohw, xImage = g.c * inPlane;
        float sum = 0.0f;
        for (i64 image = 0; image < g.n; ++image) sum += dyRow[image * dyImage] * xColumn[image * xImage];
        products[t] = sum;
    }
}

// dW[(group·mg + channel0)·patch + w] = Σ_(j in weight w's nonzeros, ascending) products[j], for the
// `used` weights of the block and groups [group0, group0 + groupCount).
extern "C" __global__ void ck_spconv_reduce_weights(const float* __restrict__ products, float* __restrict__ dweight,
                                                    const int* __restrict__ weightRowPointer,
                                                    const int* __restrict__ weightNonzero, SpGeometry g,
                                                    i64 channel0, i64 used, i64 nonzeros, i64 group0,
                                                    i64 groupCount) {
    const i64 cg = g.c / g.groups, mg = g.co / g.groups;
    const i64 patch = cg * g.kh * g.kw;
    const i64 total = groupCount * used;
    CK_LOOP(t, total) {
        const i64 w = t % used, local = t / used;
        const float* groupProducts = products + local * nonzeros;
        double sum = 0.0;
        const int end = weightRowPointer[w + 1];
        for (int j = weightRowPointer[w]; j < end; ++j) sum += (double)groupProducts[weightNonzero[j]];
        dweight[((group0 + local) * mg + channel0) * patch + w] = (float)sum;
    }
}
