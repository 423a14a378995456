/// Naive Float64 batch normalisation: the test oracle, written for clarity only.
enum NormalizationReference {
    /// Batch normalisation of `x` (`[N, C, *]`, row-major) as `batchNorm2d`: returns the output and
    /// the updated running statistics (nil when not given).
    static func batchNorm(_ x: [Double], shape: [Int], runningMean: [Double]?, runningVar: [Double]?,
                          weight: [Double]?, bias: [Double]?, training: Bool, momentum: Double,
                          eps: Double) -> (output: [Double], runningMean: [Double]?, runningVar: [Double]?) {
        let n = shape[0], channels = shape[1], inner = shape.dropFirst(2).reduce(1, *)
        let count = Double(n * inner)
        func values(of c: Int) -> [Double] {
            var v: [Double] = []
            for b in 0..<n { for i in 0..<inner { v.append(x[(b * channels + c) * inner + i]) } }
            return v
        }
        var output = [Double](repeating: 0, count: x.count)
        var newMean = runningMean, newVar = runningVar
        for c in 0..<channels {
            let v = values(of: c)
            let mean: Double, variance: Double
            if training {
                mean = v.reduce(0, +) / count
                variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / count
                if runningMean != nil {
                    newMean![c] = (1 - momentum) * runningMean![c] + momentum * mean
                    newVar![c] = (1 - momentum) * runningVar![c] + momentum * variance * count / (count - 1)
                }
            } else {
                mean = runningMean![c]
                variance = runningVar![c]
            }
            let w = weight?[c] ?? 1, b = bias?[c] ?? 0
            for batch in 0..<n {
                for i in 0..<inner {
                    let index = (batch * channels + c) * inner + i
                    output[index] = (x[index] - mean) / (variance + eps).squareRoot() * w + b
                }
            }
        }
        return (output, newMean, newVar)
    }
}
