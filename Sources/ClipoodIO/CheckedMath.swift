/// Overflow-checked arithmetic for sizes and offsets that come from files: a product that would
/// wrap is nil, never a small number that passes a later bounds check.
public enum Checked {
    /// The product of `factors` (1 for none), or nil when any factor is negative or it overflows.
    public static func product<S: Sequence>(_ factors: S) -> Int? where S.Element == Int {
        var p = 1
        for f in factors {
            guard f >= 0 else { return nil }
            let (r, o) = p.multipliedReportingOverflow(by: f)
            if o { return nil }
            p = r
        }
        return p
    }

    public static func multiply(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : r
    }

    public static func add(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? nil : r
    }
}
