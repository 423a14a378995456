/// Facts about this build of ConvKit.
public enum ConvKit {
    /// The library's version (semantic versioning).
    public static let version = "0.1.0"
}
