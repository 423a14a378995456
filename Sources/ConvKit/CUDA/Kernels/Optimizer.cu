// Optimizer kernels: fused SGD and Adam / AdamW updates, one thread per element.
//
// The arithmetic is the CPU's (CPU/CPUOptimizerKernels.swift), operation for operation and in
// the same order, with `__f*_rn` intrinsics so that NVRTC cannot fuse a multiply and an add into
// one FMA (Swift never does): the results are bit-identical to the CPU's.
#include "Common.cuh"

// d = g (+ weightDecay·p); with momentum: buf = d on the first step, else
// buf = buf·momentum + dampening·d, then d = d + momentum·buf (Nesterov) or d = buf;
// p = p + negativeLR·d. `buffer` may be null when useMomentum is 0.
extern "C" __global__ void ck_optim_sgd(float* __restrict__ param, const float* __restrict__ grad,
                                        float* __restrict__ buffer, i64 n, float negativeLR, float weightDecay,
                                        i64 useDecay, float momentum, float dampening, i64 useMomentum,
                                        i64 nesterov, i64 initialize) {
    CK_LOOP(i, n) {
        const float p = param[i];
        float d = grad[i];
        if (useDecay) d = __fadd_rn(d, __fmul_rn(weightDecay, p));
        if (useMomentum) {
            const float v = initialize ? d : __fadd_rn(__fmul_rn(buffer[i], momentum), __fmul_rn(dampening, d));
            buffer[i] = v;
            d = nesterov ? __fadd_rn(d, __fmul_rn(momentum, v)) : v;
        }
        param[i] = __fadd_rn(p, __fmul_rn(negativeLR, d));
    }
}

// p = p·decoupledFactor (AdamW) or g = g + weightDecay·p (Adam's L2);
// m = lerp(m, g, w) by PyTorch's rule (m + w·(g − m) when smallWeight, else g − (g − m)·(1 − w));
// v = v·beta2 + (oneMinusBeta2·g)·g; p = p + (negativeStep·m) / (√v / correction + eps).
extern "C" __global__ void ck_optim_adam(float* __restrict__ param, const float* __restrict__ grad,
                                         float* __restrict__ expAvg, float* __restrict__ expAvgSq, i64 n,
                                         float weightDecay, i64 useDecay, float decoupledFactor, i64 decoupled,
                                         float lerpWeight, float lerpComplement, i64 smallWeight, float beta2,
                                         float oneMinusBeta2, float eps, float correction, float negativeStep) {
    CK_LOOP(i, n) {
        float p = param[i];
        float g = grad[i];
        if (decoupled) p = __fmul_rn(p, decoupledFactor);
        else if (useDecay) g = __fadd_rn(g, __fmul_rn(weightDecay, p));
        float m = expAvg[i];
        m = smallWeight ? __fadd_rn(m, __fmul_rn(lerpWeight, __fsub_rn(g, m)))
                        : __fsub_rn(g, __fmul_rn(__fsub_rn(g, m), lerpComplement));
        const float v = __fadd_rn(__fmul_rn(expAvgSq[i], beta2), __fmul_rn(__fmul_rn(oneMinusBeta2, g), g));
        const float denominator = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), correction), eps);
        p = __fadd_rn(p, __fdiv_rn(__fmul_rn(negativeStep, m), denominator));
        expAvg[i] = m;
        expAvgSq[i] = v;
        param[i] = p;
    }
}
