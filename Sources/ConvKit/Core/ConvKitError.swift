/// Every error ConvKit throws. The message always names the operation (or file) and what was
/// expected, e.g. `conv2d: input has 3 channels but weight expects 4 (groups 1)`.
public enum ConvKitError: Error, Equatable, CustomStringConvertible {
    /// A shape, rank, dtype or argument value that the operation cannot accept.
    case invalidArgument(op: String, message: String)
    /// A combination the operation does not support (yet), stated plainly.
    case unsupported(op: String, message: String)
    /// A device (or the native library it needs) is missing or failed.
    case device(message: String)
    /// A file could not be read or written.
    case io(path: String, message: String)
    /// A file was read but its contents are not what the format requires.
    case corruptFile(path: String, message: String)
    /// Misuse of automatic differentiation (e.g. `backward()` on a tensor without a graph).
    case autograd(message: String)

    /// A one-line, human-readable message.
    public var description: String {
        switch self {
        case let .invalidArgument(op, message): return "\(op): \(message)"
        case let .unsupported(op, message): return "\(op): unsupported: \(message)"
        case let .device(message): return "device: \(message)"
        case let .io(path, message): return "\(path): \(message)"
        case let .corruptFile(path, message): return "\(path): corrupt file: \(message)"
        case let .autograd(message): return "autograd: \(message)"
        }
    }
}

extension ConvKitError: CustomDebugStringConvertible {
    /// Same as `description`, so that test failures and `print` show the message itself.
    public var debugDescription: String { description }
}

/// Throws `ConvKitError.invalidArgument(op:message:)` unless `condition` holds.
@inline(__always)
func require(_ condition: @autoclosure () -> Bool, _ op: String, _ message: @autoclosure () -> String) throws {
    if !condition() { throw ConvKitError.invalidArgument(op: op, message: message()) }
}
