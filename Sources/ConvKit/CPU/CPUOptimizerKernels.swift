/// The CPU optimizer kernels: one pass over each parameter, eight lanes at a time, split across
/// the cores. The last partial vector of a chunk goes through the same SIMD code (padded), so
/// every element is computed by the same instructions wherever it falls.
extension CPUBackend: OptimizerKernels {
    /// Elements per parallel chunk: small parameters (biases) run inline on one thread.
    private static let optimizerGrain = 1 << 14

    /// The CPU implementation of `OptimizerKernels.sgdStep`.
    public func sgdStep(parameter: Storage, gradient: Storage, momentumBuffer: Storage?, count: Int,
                        hyperparameters h: SGDStepParameters) throws {
        let p = parameter.floats, g = gradient.floats
        let useMomentum = h.momentum != 0
        precondition(!useMomentum || momentumBuffer != nil, "sgdStep: momentum needs a buffer")
        let buffer = momentumBuffer?.floats
        let negativeLR = SIMD8<Float>(repeating: -h.learningRate)
        let decay = SIMD8<Float>(repeating: h.weightDecay), useDecay = h.weightDecay != 0
        let momentum = SIMD8<Float>(repeating: h.momentum)
        let dampening = SIMD8<Float>(repeating: h.dampeningComplement)
        parallelFor(count, grain: Self.optimizerGrain) { range in
            var i = range.lowerBound
            while i < range.upperBound {
                let lanes = Swift.min(8, range.upperBound - i)
                let param = loadLanes(p + i, lanes)
                var direction = loadLanes(g + i, lanes)
                if useDecay { direction += decay * param }
                if useMomentum, let buffer {
                    var velocity: SIMD8<Float>
                    if h.initializeMomentum {
                        velocity = direction
                    } else {
                        velocity = loadLanes(buffer + i, lanes) * momentum
                        velocity += dampening * direction
                    }
                    storeLanes(velocity, buffer + i, lanes)
                    direction = h.nesterov ? direction + momentum * velocity : velocity
                }
                storeLanes(param + negativeLR * direction, p + i, lanes)
                i += lanes
            }
        }
    }

    /// The CPU implementation of `OptimizerKernels.adamStep`.
    public func adamStep(parameter: Storage, gradient: Storage, expAvg: Storage, expAvgSq: Storage, count: Int,
                         hyperparameters h: AdamStepParameters) throws {
        let p = parameter.floats, g = gradient.floats, m = expAvg.floats, v = expAvgSq.floats
        let decay = SIMD8<Float>(repeating: h.weightDecay), useDecay = h.weightDecay != 0
        let decoupled = h.decoupledDecayFactor.map { SIMD8<Float>(repeating: $0) }
        let weight = h.oneMinusBeta1
        // PyTorch's lerp: the formula is chosen by the weight so that it is exact at both ends.
        let smallWeight = Swift.abs(weight) < 0.5
        let lerpWeight = SIMD8<Float>(repeating: weight), lerpComplement = SIMD8<Float>(repeating: 1 - weight)
        let beta2 = SIMD8<Float>(repeating: h.beta2), oneMinusBeta2 = SIMD8<Float>(repeating: h.oneMinusBeta2)
        let eps = SIMD8<Float>(repeating: h.eps)
        let correction = SIMD8<Float>(repeating: h.biasCorrection2Sqrt)
        let negativeStep = SIMD8<Float>(repeating: h.negativeStepSize)
        parallelFor(count, grain: Self.optimizerGrain) { range in
            var i = range.lowerBound
            while i < range.upperBound {
                let lanes = Swift.min(8, range.upperBound - i)
                var param = loadLanes(p + i, lanes)
                var grad = loadLanes(g + i, lanes)
                if let decoupled {
                    param *= decoupled
                } else if useDecay {
                    grad += decay * param
                }
                var first = loadLanes(m + i, lanes)
                first = smallWeight ? first + lerpWeight * (grad - first) : grad - (grad - first) * lerpComplement
                var second = loadLanes(v + i, lanes) * beta2
                second += oneMinusBeta2 * grad * grad  // PyTorch's addcmul order: (value·g)·g
                let denominator = second.squareRoot() / correction + eps
                param += negativeStep * first / denominator  // addcdiv's order: (value·m)/denominator
                storeLanes(first, m + i, lanes)
                storeLanes(second, v + i, lanes)
                storeLanes(param, p + i, lanes)
                i += lanes
            }
        }
    }
}

/// Loads `lanes` (1…8) floats from `source`; the remaining lanes are 0.
@inline(__always)
private func loadLanes(_ source: UnsafeMutablePointer<Float>, _ lanes: Int) -> SIMD8<Float> {
    if lanes == 8 { return UnsafeRawPointer(source).loadUnaligned(as: SIMD8<Float>.self) }
    var vector = SIMD8<Float>(repeating: 0)
    for lane in 0..<lanes { vector[lane] = source[lane] }
    return vector
}

/// Stores the first `lanes` (1…8) floats of `vector` to `destination`.
@inline(__always)
private func storeLanes(_ vector: SIMD8<Float>, _ destination: UnsafeMutablePointer<Float>, _ lanes: Int) {
    if lanes == 8 {
        UnsafeMutableRawPointer(destination).storeBytes(of: vector, as: SIMD8<Float>.self)
        return
    }
    for lane in 0..<lanes { destination[lane] = vector[lane] }
}
