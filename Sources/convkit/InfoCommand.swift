import ArgumentParser
import ConvKit
import Foundation

/// `convkit info`: the ConvKit version, the devices found and the native libraries in use.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show the ConvKit version, devices and native libraries."
    )

    func run() throws {
        let blas = BLASInfo.current
        print("ConvKit \(ConvKit.version)")
        print("devices:")
        print("  cpu: \(ProcessInfo.processInfo.activeProcessorCount) threads")
        if let reason = CUDA.unavailableReason {
            print("  cuda: \(reason)")
        } else {
            for index in 0..<((try? CUDA.deviceCount()) ?? 0) {
                guard let gpu = try? CUDA.backend(.cuda(index)) else { continue }
                print("  cuda:\(index): \(gpu.name), sm_\(gpu.computeCapability), \(gpu.multiprocessorCount) SMs, "
                      + String(format: "%.1f GiB", Double(gpu.totalMemory) / Double(1 << 30)))
                print("    GEMM: \(gpu.blasDescription)")
            }
            print("  kernel compiler: \(CUDA.compilerDescription)")
        }
        print("BLAS: \(blas.description)")
        if !blas.searched.isEmpty {
            print("  searched: \(blas.searched.joined(separator: ", "))")
        }
    }
}
