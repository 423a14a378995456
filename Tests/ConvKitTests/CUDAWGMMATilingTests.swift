@testable import ConvKit
import Foundation
import XCTest

/// The Hopper wgmma convolution's host side: which tile variant and K split each layer gets, which
/// geometries it takes, and that its kernels exist only in the sm_90a image. (The kernels'
/// results are checked on the GPU by `convkit verify`, `WGMMAConvDeviceChecks`.)
final class CUDAWGMMATilingTests: XCTestCase {
    private func layer(_ c: Int, _ size: Int, _ co: Int, kernel: Int = 3, padding: Int = 1) -> Conv2dGeometry {
        Conv2dGeometry(n: 128, inChannels: c, inHeight: size, inWidth: size, outChannels: co, kernelHeight: kernel,
                       kernelWidth: kernel, padTop: padding, padBottom: padding, padLeft: padding, padRight: padding)
    }

    /// On the H200's 132 SMs the model picks, for each benchmark pass, the variant that was fastest
    /// (or within 10% of it) in the kernel lab (benchmarks/2026-12-04-h200-wgmma/variants.txt).
    func testPlanPicksTheMeasuredVariants() {
        let expected: [(String, Conv2dGeometry, Int, Int)] = [
            ("conv3 fwd", layer(192, 13, 384), 128, 1),
            ("conv3 dgrad", layer(384, 13, 192), 64, 1),
            ("conv4 fwd", layer(384, 13, 256), 256, 2),
            ("conv4 dgrad", layer(256, 13, 384), 128, 1),
            ("conv5", layer(256, 13, 256), 256, 2),
            ("64 at 56", layer(64, 56, 64), 64, 1),
            ("256 at 14", layer(256, 14, 256), 256, 2),
        ]
        for (name, g, columns, splits) in expected {
            let plan = CUDAWGMMATiling.plan(g, multiprocessors: 132)
            XCTAssertEqual(plan.variant.columns, columns, name)
            XCTAssertEqual(plan.splits, splits, name)
        }
    }

    /// Two splits only when each covers at least `minimumSlicesPerSplit` slices of K.
    func testShortReductionsAreNotSplit() {
        let g = layer(32, 13, 256)  // K = 288: 9 slices
        XCTAssertEqual(CUDAWGMMATiling.plan(g, multiprocessors: 132).splits, 1)
    }

    func testSupportedGeometries() {
        XCTAssertTrue(CUDABackend.wgmmaConvSupports(layer(192, 13, 384)))
        XCTAssertFalse(CUDABackend.wgmmaConvSupports(layer(3, 224, 64, kernel: 11, padding: 2)), "3 input channels")
        XCTAssertFalse(CUDABackend.wgmmaConvSupports(layer(48, 13, 64)), "48 is not a multiple of 32")
        var grouped = layer(64, 13, 64)
        grouped.groups = 2
        XCTAssertFalse(CUDABackend.wgmmaConvSupports(grouped), "groups")
        let strided = Conv2dGeometry(n: 2, inChannels: 64, inHeight: 9, inWidth: 9, outChannels: 64, kernelHeight: 3,
                                     kernelWidth: 3, strideH: 2, strideW: 2)
        XCTAssertTrue(CUDABackend.wgmmaConvSupports(strided))
        XCTAssertFalse(CUDABackend.wgmmaConvSupportsBackwardInput(strided), "the input gradient needs stride 1")
        let huge = Conv2dGeometry(n: 4096, inChannels: 512, inHeight: 64, inWidth: 64, outChannels: 64,
                                  kernelHeight: 3, kernelWidth: 3)
        XCTAssertFalse(CUDABackend.wgmmaConvSupports(huge), "offsets beyond 32 bits")
    }

    /// WGMMAConv.cu compiles for sm_90a on sm_90 (with the wgmma GEMM kernels) and as plain code
    /// elsewhere (without them): the sm_90a image is the larger by the GEMM kernels' code.
    func testWarpgroupKernelsExistOnlyForSM90a() throws {
        let source = CUDAKernelModule.wgmma.source
        XCTAssertEqual(source.target(for: 90), "90a")
        XCTAssertEqual(source.target(for: 80), "80")
        XCTAssertEqual(CUDAKernelModule.tensorCore.source.target(for: 90), "90")
        let hopper: [UInt8], ampere: [UInt8]
        do {
            hopper = try CUDAKernelCompiler.compile(source, architecture: 90).image
            ampere = try CUDAKernelCompiler.compile(source, architecture: 80).image
        } catch let ConvKitError.device(message) where message.contains("library not found")
                    && ProcessInfo.processInfo.environment["CI"] == nil {
            throw XCTSkip("NVRTC is not installed here: \(message)")
        }
        XCTAssertGreaterThan(hopper.count, ampere.count + 20_000, "sm_90a image \(hopper.count) bytes, sm_80 \(ampere.count)")
    }
}
