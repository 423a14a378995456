import XCTest
@testable import ConvKit

final class NNLocalResponseNormTests: XCTestCase {
    func testForwardAndGradientMatchReferenceOverRandomShapesAndArguments() throws {
        var rng = TestRNG(seed: 31)
        for trial in 0..<30 {
            let shape = [rng.int(1...2), rng.int(1...7)] + (0..<rng.int(1...3)).map { _ in rng.int(1...3) }
            let size = rng.int(1...6)
            let alpha = [1e-4, 0.1, 1.0][rng.int(0...2)], beta = [0.75, 0.5, 1.3][rng.int(0...2)]
            let k = [1.0, 2.0, 0.5][rng.int(0...2)]
            let layout = ReductionLayout(shape: shape, axis: 1)
            let x = try nnRandomTensor(shape, seed: UInt64(500 + trial), scale: 2)
            let y = try localResponseNorm(x, size: size, alpha: Float(alpha), beta: Float(beta), k: Float(k))
            let xs = nnDoubles(try x.toArray())
            let f = { (v: [Double]) in
                NNReference.localResponseNorm(v, outer: layout.outer, channels: layout.dim, inner: layout.inner,
                                              size: size, alpha: alpha, beta: beta, k: k)
            }
            let message = "shape \(shape) size \(size) alpha \(alpha) beta \(beta) k \(k)"
            assertClose(try y.toArray(), f(xs), message)
            let upstream = randomValues(y.count, seed: UInt64(600 + trial))
            try nnBackward(y, upstream: upstream)
            assertClose(try x.grad!.toArray(), numericGradient(at: xs, upstream: nnDoubles(upstream), f), tolerance: 1e-4, message)
        }
    }

    func testWideSpatialExtentUsesTiles() throws {
        let x = try nnRandomTensor([1, 4, 20, 20], seed: 12, scale: 2)
        let y = try localResponseNorm(x, size: 3, alpha: 0.5, beta: 0.75, k: 1)
        let xs = nnDoubles(try x.toArray())
        let f = { (v: [Double]) in NNReference.localResponseNorm(v, outer: 1, channels: 4, inner: 400, size: 3, alpha: 0.5, beta: 0.75, k: 1) }
        assertClose(try y.toArray(), f(xs))
        let upstream = randomValues(1600, seed: 13)
        try nnBackward(y, upstream: upstream)
        assertClose(try x.grad!.toArray(), numericGradient(at: xs, upstream: nnDoubles(upstream), f), tolerance: 1e-4)
    }

    func testMatchesPyTorch() throws {
        // F.local_response_norm(x [2, 5, 3], size, alpha=0.1, beta=0.75, k=2) with x = sin(0.5i+0.1)·2,
        // upstream sin(0.2i+0.4); size 3 (symmetric window) and 4 (one more channel before than after).
        let pinned: [Int: ([Double], [Double])] = [
            3: ([0.113064535, 0.637837719, 1.00692172, 1.13195737, 0.966287077, 0.564861782, 0.0450406803, -0.483408632, -0.912873477, -1.12469034, -1.04164637, -0.695773843, -0.206193869, 0.353741141, 0.828658089, 1.09468343, 1.10039271, 0.834822204, 0.347155695, -0.189067385, -0.688707342, -1.03796147, -1.12575398, -0.918259786, -0.491330879, 0.0364199516, 0.557195463, 0.976175012, 1.13224658, 1.0109994],
                [0.215854003, 0.285968133, 0.352946441, 0.427809606, 0.489437397, 0.529299174, 0.541207092, 0.526537568, 0.483179082, 0.414006669, 0.332448822, 0.248361318, 0.181247661, 0.0895660872, -0.0197049561, -0.120550624, -0.235920969, -0.35183846, -0.41905516, -0.466200853, -0.495488319, -0.507555281, -0.505564102, -0.490402329, -0.462023949, -0.419747911, -0.356311664, -0.262262616, -0.142231632, -0.0293259009]),
            4: ([0.114419521, 0.645875267, 1.01956544, 1.14554503, 0.980566673, 0.576064983, 0.046039445, -0.488000217, -0.90203375, -1.09937652, -1.02871052, -0.70214621, -0.208678778, 0.355273406, 0.818289061, 1.10816711, 1.11310685, 0.844079224, 0.354623224, -0.193271015, -0.701474279, -1.01846004, -1.10258886, -0.915197468, -0.499646752, 0.0372018736, 0.560744152, 0.958041433, 1.10682144, 0.999678736],
                [0.219406464, 0.306500443, 0.394438036, 0.474883654, 0.52479421, 0.547816107, 0.553246446, 0.534357092, 0.482953656, 0.41624261, 0.339957268, 0.260257508, 0.185906452, 0.0873260709, -0.0225037326, -0.160867262, -0.278806877, -0.377151246, -0.430161164, -0.478845071, -0.519727788, -0.525328393, -0.520625423, -0.501682189, -0.47548635, -0.428382254, -0.355702409, -0.258866366, -0.143218771, -0.0331142724]),
        ]
        for (size, (output, gradient)) in pinned {
            let x = try Tensor(nnPinnedValues(30, 0.5, 0.1, 2), shape: [2, 5, 3], requiresGrad: true)
            let y = try localResponseNorm(x, size: size, alpha: 0.1, beta: 0.75, k: 2)
            assertClose(try nnBackward(y, upstream: nnPinnedValues(30, 0.2, 0.4, 1)), output, "size \(size)")
            assertClose(try x.grad!.toArray(), gradient, "gradient size \(size)")
        }
        // 4-D input with PyTorch's defaults (alpha 1e-4, beta 0.75, k 1), size 5.
        let x4 = try Tensor(nnPinnedValues(48, 0.5, 0.1, 2), shape: [2, 6, 2, 2])
        assertClose(try localResponseNorm(x4, size: 5).toArray(), [0.199649767, 1.12917845, 1.78223795, 1.99895609, 1.72626774, 1.03089951, 0.0831504265, -0.884906543, -1.63631874, -1.98711871, -1.8513754, -1.26233933, -0.364264266, 0.622980272, 1.45772107, 1.93557937, 1.93954291, 1.46857609, 0.638101797, -0.348610835, -1.25003895, -1.8453861, -1.98891158, -1.64549485, -0.899222267, 0.0672404156, 1.01722812, 1.71815353, 1.99840164, 1.78942467, 1.14228307, 0.215479959, -0.764018526, -1.5564766, -1.96786792, -1.89743165, -1.36242142, -0.493865463, 0.495586278, 1.36372098, 1.89807569, 1.96758177, 1.55536099, 0.762386204, -0.217255244, -1.14375824, -1.79021708, -1.99835907])
    }

    func testEmptyInput() throws {
        XCTAssertEqual(try localResponseNorm(try Tensor.zeros([0, 3, 2]), size: 2).shape, [0, 3, 2])
    }

    func testErrors() throws {
        assertThrowsConvKitError(try localResponseNorm(try Tensor.zeros([2, 3]), size: 2), "localResponseNorm", "3 or more dimensions", "[2, 3]")
        assertThrowsConvKitError(try localResponseNorm(try Tensor.zeros([1, 2, 3]), size: 0), "localResponseNorm", "size")
        assertThrowsConvKitError(try localResponseNorm(try Tensor(indices: [1, 2, 3], shape: [1, 3, 1]), size: 2), "localResponseNorm", "float32")
    }
}
