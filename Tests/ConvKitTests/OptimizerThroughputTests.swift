import XCTest
@testable import ConvKit

/// The fused optimizer kernels on a large parameter: results independent of how the work is
/// split, and their speed (printed; meaningful in `-c release`).
final class OptimizerThroughputTests: XCTestCase {
    #if DEBUG
    private let count = 1 << 15 + 3
    #else
    private let count = 1 << 24 + 3
    #endif

    /// Runs `update` on the whole parameter, then on copies cut into pieces of awkward sizes, and
    /// requires bit-identical results; returns the median seconds of timed whole-tensor updates.
    private func checkSplitIndependence(name: String, bytesPerElement: Int, stateCount: Int,
                                        _ update: (_ storages: [Storage], _ count: Int) throws -> Void) throws {
        let backend = CPUBackend.shared
        func makeStorages(_ n: Int, seed: UInt64) throws -> [Storage] {
            try (0..<(2 + stateCount)).map { index in
                var values = randomValues(n, seed: seed + UInt64(index))
                if index >= 2 && stateCount == 2 && index == 3 { values = values.map { $0 * $0 } }  // exp_avg_sq ≥ 0
                return try Tensor(values).storage
            }
        }
        let whole = try makeStorages(count, seed: 5)
        try update(whole, count)
        try update(whole, count)

        let pieces = try makeStorages(count, seed: 5)
        var offset = 0
        for size in [1, 7, 8, 9, 13, 4096 + 5] + [count] {
            let n = min(size, count - offset)
            if n == 0 { break }
            let views = try pieces.map { storage -> Storage in
                let view = try backend.allocate(byteCount: n * 4)
                view.floats.update(from: storage.floats + offset, count: n)
                return view
            }
            try update(views, n)
            try update(views, n)
            for (view, storage) in zip(views, pieces) { (storage.floats + offset).update(from: view.floats, count: n) }
            offset += n
        }
        for (index, (a, b)) in zip(whole, pieces).enumerated() {
            let equal = (0..<count).allSatisfy { a.floats[$0].bitPattern == b.floats[$0].bitPattern }
            XCTAssert(equal, "\(name): storage \(index) differs between the whole and the split update")
        }

        var times: [Double] = []
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            try update(whole, count)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let median = times.sorted()[2]
        let gigabytes = Double(count * bytesPerElement) / 1e9
        print(String(format: "%@: %d elements, median %.3f ms, %.1f GB/s", name, count, median * 1e3, gigabytes / median))
    }

    func testSGDKernelDoesNotDependOnTheSplit() throws {
        let h = SGDStepParameters(learningRate: 0.1, momentum: 0.9, dampeningComplement: 1, weightDecay: 1e-4,
                                  nesterov: true, initializeMomentum: false)
        // Reads parameter, gradient, buffer; writes parameter, buffer.
        try checkSplitIndependence(name: "sgdStep (Nesterov, weight decay)", bytesPerElement: 20, stateCount: 1) { s, n in
            try CPUBackend.shared.sgdStep(parameter: s[0], gradient: s[1], momentumBuffer: s[2], count: n, hyperparameters: h)
        }
    }

    func testAdamKernelDoesNotDependOnTheSplit() throws {
        let adam = try Adam(parameters: [Tensor([0], requiresGrad: true)], learningRate: 1e-3, weightDecay: 0.01)
        let h = adam.stepParameters(step: 3)
        // Reads parameter, gradient, both moments; writes parameter and both moments.
        try checkSplitIndependence(name: "adamStep", bytesPerElement: 28, stateCount: 2) { s, n in
            try CPUBackend.shared.adamStep(parameter: s[0], gradient: s[1], expAvg: s[2], expAvgSq: s[3], count: n, hyperparameters: h)
        }
    }
}
