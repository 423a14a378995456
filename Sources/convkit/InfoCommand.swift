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
        print("  cuda: not available in this build (CPU backend only)")
        print("BLAS: \(blas.description)")
        if !blas.searched.isEmpty {
            print("  searched: \(blas.searched.joined(separator: ", "))")
        }
    }
}
