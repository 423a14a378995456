/// A pair of sizes for the height and width dimensions (kernel size, stride, padding,
/// dilation). An integer literal means the same value for both, as in PyTorch: `stride: 2`.
public struct Size2d: Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// The size along the height dimension.
    public var h: Int
    /// The size along the width dimension.
    public var w: Int

    /// Different sizes for height and width.
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    /// The same size for height and width.
    public init(_ both: Int) { self.init(both, both) }
    /// The same size for height and width, from a literal.
    public init(integerLiteral value: Int) { self.init(value) }

    /// `(h, w)`.
    public var description: String { h == w ? "\(h)" : "(\(h), \(w))" }
}
