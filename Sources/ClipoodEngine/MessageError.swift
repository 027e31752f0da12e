/// An error that is just a message, from code below the command language (the workspace turns
/// it into a located CommandError where it knows the argument at fault).
public struct MessageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
