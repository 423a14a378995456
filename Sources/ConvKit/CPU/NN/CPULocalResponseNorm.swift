import Foundation

extension CPUBackend {
    /// Spatial positions handled together by one local-response-norm task (contiguous in memory).
    static let localResponseNormTile = 256

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
                        for i in 0..<width {
                            let sc = k + alphaOverSize * sums[i]
                            sr[i] = sc
                            yr[i] = xr[i] * Foundation.pow(sc, -beta)
                        }
                    }
                }
            }
        }
    }

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
            // t[c] = g[c]·x[c]·scale[c]^(−β−1) for the tile, then windowed sums of it.
            Scratch.withFloats(channels * width0 + width0) { buffer in
                let t = buffer, sums = buffer + channels * width0
                for task in tasks {
                    let o = task / tilesPerOuter, i0 = (task % tilesPerOuter) * tile
                    let width = Swift.min(tile, inner - i0)
                    let offset = o * channels * inner + i0
                    for c in 0..<channels {
                        let gr = g + offset + c * inner, xr = x + offset + c * inner, sr = s + offset + c * inner
                        let tr = t + c * width0
                        for i in 0..<width { tr[i] = gr[i] * xr[i] * Foundation.pow(sr[i], -beta - 1) }
                    }
                    for j in 0..<channels {
                        for i in 0..<width { sums[i] = 0 }
                        for c in Swift.max(0, j - below)...Swift.min(channels - 1, j + above) {
                            let tr = t + c * width0
                            for i in 0..<width { sums[i] += tr[i] }
                        }
                        let gr = g + offset + j * inner, xr = x + offset + j * inner
                        let sr = s + offset + j * inner, dr = dx + offset + j * inner
                        for i in 0..<width {
                            dr[i] = gr[i] * Foundation.pow(sr[i], -beta) - factor * xr[i] * sums[i]
                        }
                    }
                }
            }
        }
    }
}
