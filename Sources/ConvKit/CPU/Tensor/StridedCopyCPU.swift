/// Cache-friendly strided copies for the CPU backend.
enum StridedCopyCPU {
    /// A copy whose destination is contiguous in the last dimension while the source is
    /// contiguous in dimension `tiledDim` (a transpose): the two dimensions are walked in
    /// 32×32 tiles so that both sides reuse their cache lines.
    static func transposed(_ src: UnsafePointer<Int32>, _ sourceStrides: [Int], _ dst: UnsafeMutablePointer<Int32>,
                           _ destinationStrides: [Int], _ shape: [Int], tiledDim t: Int) {
        let last = shape.count - 1
        let tile = 32
        let others = shape.indices.filter { $0 != t && $0 != last }
        let otherShape = others.map { shape[$0] }
        let otherS = others.map { sourceStrides[$0] }, otherD = others.map { destinationStrides[$0] }
        let otherCount = otherShape.reduce(1, *)
        let tBlocks = (shape[t] + tile - 1) / tile, jBlocks = (shape[last] + tile - 1) / tile
        let ss = sourceStrides[last], ts = destinationStrides[t]
        CPUBackend.shared.parallelFor(otherCount * tBlocks * jBlocks, grain: 16) { range in
            for item in range {
                let o = item / (tBlocks * jBlocks), tb = (item / jBlocks) % tBlocks, jb = item % jBlocks
                var rem = o, offS = 0, offD = 0
                for d in stride(from: otherShape.count - 1, through: 0, by: -1) {
                    let i = rem % otherShape[d]
                    rem /= otherShape[d]
                    offS += i * otherS[d]
                    offD += i * otherD[d]
                }
                let t0 = tb * tile, t1 = min(t0 + tile, shape[t])
                let j0 = jb * tile, j1 = min(j0 + tile, shape[last])
                for i in t0..<t1 {
                    let s = src + offS + i, d = dst + offD + i * ts
                    for j in j0..<j1 { d[j] = s[j * ss] }
                }
            }
        }
    }
}
