/// Residual connection: out = a + b. Its backward passes dout to both branches.
public enum Residual {
    public static func forward(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int) {
        Parallel.chunks(count, minimum: Elementwise.minimumPerThread) { r in
            for i in r { out[i] = a[i] + b[i] }
        }
    }

    public static func backward(da: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?,
                                dout: UnsafePointer<Float>, count: Int) {
        Parallel.chunks(count, minimum: Elementwise.minimumPerThread) { r in
            if let da { for i in r { da[i] += dout[i] } }
            if let db { for i in r { db[i] += dout[i] } }
        }
    }
}
