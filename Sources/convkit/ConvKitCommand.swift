import ArgumentParser
import ConvKit
import Foundation

/// The `convkit` command line: training (the default), evaluation, prediction, the demo,
/// benchmarks and machine information.
@main
struct ConvKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convkit",
        abstract: "ConvKit: a deep-learning engine for convolutional networks.",
        version: ConvKit.version,
        subcommands: [TrainCommand.self, EvalCommand.self, PredictCommand.self, DemoCommand.self, BenchCommand.self, VerifyCommand.self, InfoCommand.self],
        defaultSubcommand: TrainCommand.self
    )
}

/// Throws unless `path` (the value of `flag`, when given) is a directory; with `mustExist` false
/// a path that does not exist yet is accepted (a cache directory is created when first used).
func requireDirectory(_ flag: String, _ path: String?, mustExist: Bool) throws {
    guard let path else { return }
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
        guard isDirectory.boolValue else {
            throw ConvKitError.io(path: path, message: "\(flag) must name a directory, but this is a file")
        }
    } else if mustExist {
        throw ConvKitError.io(path: path, message: "\(flag): the directory does not exist")
    }
}

/// Runs `body`; a `ConvKitError` becomes one line on standard error and exit status 1,
/// never a stack trace.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ConvKitError {
        FileHandle.standardError.write(Data("convkit: error: \(error.description)\n".utf8))
        throw ExitCode(1)
    }
}
