import Foundation

/// Naive Float64 optimizer updates and learning-rate schedules: the test oracle, written for
/// clarity only, following PyTorch's `_single_tensor_sgd` / `_single_tensor_adam` and the
/// schedulers' recursive (chainable) `get_lr` forms.
enum OptimizerReference {
    /// One SGD update of `parameter`; `momentumBuffer` is nil before the first step with momentum.
    static func sgdStep(parameter: inout [Double], gradient: [Double], momentumBuffer: inout [Double]?,
                        learningRate: Double, momentum: Double, dampening: Double, weightDecay: Double, nesterov: Bool) {
        var direction = gradient
        if weightDecay != 0 {
            for i in direction.indices { direction[i] += weightDecay * parameter[i] }
        }
        if momentum != 0 {
            if var buffer = momentumBuffer {
                for i in buffer.indices { buffer[i] = momentum * buffer[i] + (1 - dampening) * direction[i] }
                momentumBuffer = buffer
            } else {
                momentumBuffer = direction
            }
            let buffer = momentumBuffer!
            if nesterov {
                for i in direction.indices { direction[i] += momentum * buffer[i] }
            } else {
                direction = buffer
            }
        }
        for i in parameter.indices { parameter[i] -= learningRate * direction[i] }
    }

    /// One Adam (or AdamW when `decoupled`) update; `step` is the parameter's update number (≥ 1).
    static func adamStep(parameter: inout [Double], gradient: [Double], expAvg: inout [Double], expAvgSq: inout [Double],
                         step: Int, learningRate: Double, beta1: Double, beta2: Double, eps: Double,
                         weightDecay: Double, decoupled: Bool) {
        var g = gradient
        if weightDecay != 0 {
            if decoupled {
                for i in parameter.indices { parameter[i] *= 1 - learningRate * weightDecay }
            } else {
                for i in g.indices { g[i] += weightDecay * parameter[i] }
            }
        }
        let biasCorrection1 = 1 - pow(beta1, Double(step))
        let biasCorrection2 = 1 - pow(beta2, Double(step))
        for i in parameter.indices {
            expAvg[i] = beta1 * expAvg[i] + (1 - beta1) * g[i]
            expAvgSq[i] = beta2 * expAvgSq[i] + (1 - beta2) * g[i] * g[i]
            let mHat = expAvg[i] / biasCorrection1
            let denominator = (expAvgSq[i] / biasCorrection2).squareRoot() + eps
            parameter[i] -= learningRate * mHat / denominator
        }
    }

    /// StepLR's learning rates for epochs 0…`epochs`, by PyTorch's recursive rule: multiply by
    /// `gamma` at every non-zero multiple of `stepSize`.
    static func stepLR(base: Double, stepSize: Int, gamma: Double, epochs: Int) -> [Double] {
        var rates = [base]
        for epoch in stride(from: 1, through: epochs, by: 1) {
            rates.append(epoch % stepSize == 0 ? rates[epoch - 1] * gamma : rates[epoch - 1])
        }
        return rates
    }

    /// CosineAnnealingLR's learning rates for epochs 0…`epochs`, by PyTorch's recursive rule.
    static func cosineAnnealing(base: Double, tMax: Int, etaMin: Double, epochs: Int) -> [Double] {
        var rates = [base]
        let t = Double(tMax)
        for epoch in stride(from: 1, through: epochs, by: 1) {
            let previous = rates[epoch - 1], e = Double(epoch)
            if (epoch - 1 - tMax) % (2 * tMax) == 0 {
                rates.append(previous + (base - etaMin) * (1 - cos(Double.pi / t)) / 2)
            } else {
                rates.append((1 + cos(Double.pi * e / t)) / (1 + cos(Double.pi * (e - 1) / t)) * (previous - etaMin) + etaMin)
            }
        }
        return rates
    }
}
