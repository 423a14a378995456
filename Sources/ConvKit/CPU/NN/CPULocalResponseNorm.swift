import Foundation

extension CPUBackend {
    /// Spatial positions handled together by one local-response-norm task (contiguous in memory).
    static let localResponseNormTile = 256

    /// The CPU implementation of `NNKernels.localResponseNormForward`.
    public func localResponseNormForward(input: Storage, output: Storage, scale: Storage, layout: ReductionLayout,
                                         size: Int, alpha: Float, beta: Float, k: Float) throws {
        let x = input.floats, y = output.floats, s = scale.floats
        let (outer, channels, inner) = (layout.outer, layout.dim, layout.inner)
        guard layout.count > 0 else { return }
        let before = size / 2, after = (size - 1) / 2
        let alphaOverSize = alpha / Float(size)
        let tile = CPUBackend.localResponseNormTile
        let tilesPerOuter = (inner + tile - 1) / tile
        parallelFor(outer * tilesPerOuter, grain: Swift.max(1, 4096 / (channels * Swift.min(inner, tile)))) { tasks in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: tile) { buffer in
                let sums = buffer.baseAddress!
                for task in tasks {
                    let o = task / tilesPerOuter, i0 = (task % tilesPerOuter) * tile
                    let width = Swift.min(tile, inner - i0)
                    let offset = o * channels * inner + i0
                    for c in 0..<channels {
                        for i in 0..<width { sums[i] = 0 }
                        for c2 in Swift.max(0, c - before)...Swift.min(channels - 1, c + after) {
                            let row = x + offset + c2 * inner
                            for i in 0..<width { sums[i] += row[i] * row[i] }
                        }
                        let xr = x + offset + c * inner, yr = y + offset + c * inner, sr = s + offset + c * inner
                        for i in 0..<width { sr[i] = k + alphaOverSize * sums[i] }
                        CPUBackend.negativePower(sr, beta, times: xr, into: yr, count: width)
                    }
                }
            }
        }
    }

    /// The CPU implementation of `NNKernels.localResponseNormBackward`.
    public func localResponseNormBackward(gradOutput: Storage, input: Storage, scale: Storage, gradInput: Storage,
                                          layout: ReductionLayout, size: Int, alpha: Float, beta: Float) throws {
        let g = gradOutput.floats, x = input.floats, s = scale.floats, dx = gradInput.floats
        let (outer, channels, inner) = (layout.outer, layout.dim, layout.inner)
        guard layout.count > 0 else { return }
        // Channel j lies in the window of channel c when c ∈ [j − (size−1)/2, j + size/2].
        let below = (size - 1) / 2, above = size / 2
        let factor = 2 * alpha * beta / Float(size)
        let tile = CPUBackend.localResponseNormTile
        let tilesPerOuter = (inner + tile - 1) / tile
        let width0 = Swift.min(inner, tile)
        parallelFor(outer * tilesPerOuter, grain: Swift.max(1, 4096 / (channels * width0))) { tasks in
            // For the tile: gp[c] = g[c]·scale[c]^(−β) and t[c] = gp[c]·x[c]/scale[c], then windowed sums of t.
            Scratch.withFloats(2 * channels * width0 + width0) { buffer in
                let t = buffer, gp = buffer + channels * width0, sums = buffer + 2 * channels * width0
                for task in tasks {
                    let o = task / tilesPerOuter, i0 = (task % tilesPerOuter) * tile
                    let width = Swift.min(tile, inner - i0)
                    let offset = o * channels * inner + i0
                    for c in 0..<channels {
                        let gr = g + offset + c * inner, xr = x + offset + c * inner, sr = s + offset + c * inner
                        let tr = t + c * width0, gpr = gp + c * width0
                        CPUBackend.negativePower(sr, beta, times: gr, into: gpr, count: width)
                        for i in 0..<width { tr[i] = gpr[i] * xr[i] / sr[i] }
                    }
                    for j in 0..<channels {
                        for i in 0..<width { sums[i] = 0 }
                        for c in Swift.max(0, j - below)...Swift.min(channels - 1, j + above) {
                            let tr = t + c * width0
                            for i in 0..<width { sums[i] += tr[i] }
                        }
                        let xr = x + offset + j * inner, dr = dx + offset + j * inner, gpr = gp + j * width0
                        for i in 0..<width { dr[i] = gpr[i] - factor * xr[i] * sums[i] }
                    }
                }
            }
        }
    }

    /// `output[i] = factor[i] · scale[i]^(−beta)`; `beta = 0.75` (AlexNet's and PyTorch's default)
    /// takes a vectorisable path through square roots instead of `pow`.
    @inline(__always)
    static func negativePower(_ scale: UnsafeMutablePointer<Float>, _ beta: Float, times factor: UnsafeMutablePointer<Float>,
                              into output: UnsafeMutablePointer<Float>, count: Int) {
        if beta == 0.75 {
            for i in 0..<count {
                let root = scale[i].squareRoot()
                output[i] = factor[i] / (root * root.squareRoot())
            }
        } else {
            for i in 0..<count { output[i] = factor[i] * Foundation.pow(scale[i], -beta) }
        }
    }
}
