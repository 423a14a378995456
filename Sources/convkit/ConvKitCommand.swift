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
