import Foundation

// A tiny anti-aliased rasteriser on signed distance fields.
//
// Every primitive is a signed distance function in a figure's local coordinates (unit ≈ the
// figure's radius, y pointing down). A pixel's coverage is clamp(0.5 − d/edge) with d the
// distance in pixels, which anti-aliases analytically: no supersampling needed, and a wider
// `edge` gives the soft edges of the painted style. Outlines are |d| < width/2.

typealias V2 = SIMD2<Float>
typealias RGBf = SIMD3<Float>

/// One primitive, in local coordinates.
enum Shape {
    case circle(V2, Float)
    case ellipse(V2, V2)
    /// An annulus: centre, radius of the middle line, half thickness.
    case ring(V2, Float, Float)
    /// A segment with round caps: a, b, radius.
    case capsule(V2, V2, Float)
    case polygon([V2])

    /// A bounding circle (centre, radius) in local coordinates.
    var bounds: (V2, Float) {
        switch self {
        case let .circle(c, r): return (c, r)
        case let .ellipse(c, r): return (c, max(r.x, r.y))
        case let .ring(c, r, w): return (c, r + w)
        case let .capsule(a, b, r): return ((a + b) * 0.5, simdLength(b - a) * 0.5 + r)
        case let .polygon(p):
            var lo = p[0], hi = p[0]
            for v in p { lo = simdMin(lo, v); hi = simdMax(hi, v) }
            let c = (lo + hi) * 0.5
            var r: Float = 0
            for v in p { r = max(r, simdLength(v - c)) }
            return (c, r)
        }
    }

    /// Signed distance (negative inside) in local units.
    @inline(__always) func distance(_ p: V2) -> Float {
        switch self {
        case let .circle(c, r):
            return simdLength(p - c) - r
        case let .ellipse(c, r):
            // Two-norm approximation (exact on the axes, good enough near the boundary).
            let q = p - c
            let k0 = simdLength(q / r)
            let k1 = simdLength(q / (r * r))
            return k1 > 1e-6 ? k0 * (k0 - 1) / k1 : -min(r.x, r.y)
        case let .ring(c, r, w):
            return abs(simdLength(p - c) - r) - w
        case let .capsule(a, b, r):
            let pa = p - a, ba = b - a
            let h = min(max(simdDot(pa, ba) / max(simdDot(ba, ba), 1e-12), 0), 1)
            return simdLength(pa - ba * h) - r
        case let .polygon(v):
            return polygonDistance(p, v)
        }
    }
}

@inline(__always) func simdLength(_ v: V2) -> Float { (v.x * v.x + v.y * v.y).squareRoot() }
@inline(__always) func simdDot(_ a: V2, _ b: V2) -> Float { a.x * b.x + a.y * b.y }
@inline(__always) func simdMin(_ a: V2, _ b: V2) -> V2 { V2(min(a.x, b.x), min(a.y, b.y)) }
@inline(__always) func simdMax(_ a: V2, _ b: V2) -> V2 { V2(max(a.x, b.x), max(a.y, b.y)) }
@inline(__always) func clamp01(_ x: Float) -> Float { min(max(x, 0), 1) }

/// Exact signed distance to a simple polygon (winding by crossing parity).
func polygonDistance(_ p: V2, _ v: [V2]) -> Float {
    let n = v.count
    var d = simdDot(p - v[0], p - v[0])
    var inside = false
    var j = n - 1
    for i in 0 ..< n {
        let e = v[j] - v[i], w = p - v[i]
        let h = min(max(simdDot(w, e) / max(simdDot(e, e), 1e-12), 0), 1)
        let b = w - e * h
        d = min(d, simdDot(b, b))
        let c1 = p.y >= v[i].y, c2 = p.y < v[j].y, c3 = e.x * w.y > e.y * w.x
        if (c1 && c2 && c3) || (!c1 && !c2 && !c3) { inside.toggle() }
        j = i
    }
    return (inside ? -1 : 1) * d.squareRoot()
}

/// A primitive with its colour. `line` parts are strokes or small details (stems, hands,
/// eyes): drawn solid dark in the sketch style and without an outline in the cartoon style.
struct Part {
    var shape: Shape
    var color: RGBf
    var line: Bool = false
}

/// Local → pixel placement: pixel = centre + scale · R(angle) · local.
struct Placement {
    var center: V2
    var scale: Float
    var angle: Float

    func toPixel(_ q: V2) -> V2 {
        let c = cos(angle), s = sin(angle)
        return center + scale * V2(c * q.x - s * q.y, s * q.x + c * q.y)
    }
}

/// A 32-bit integer hash → [0, 1).
@inline(__always) func hash01(_ x: Int32, _ y: Int32, _ seed: UInt32) -> Float {
    var h = UInt32(bitPattern: x) &* 0x8DA6_B343 ^ UInt32(bitPattern: y) &* 0xD816_3841 ^ seed &* 0xCB1A_B31F
    h ^= h >> 13
    h = h &* 0x5BD1_E995
    h ^= h >> 15
    return Float(h & 0xFF_FFFF) * (1.0 / 16_777_216.0)
}

/// Smooth value noise in [0, 1).
@inline(__always) func valueNoise(_ x: Float, _ y: Float, _ seed: UInt32) -> Float {
    let fx = x.rounded(.down), fy = y.rounded(.down)
    let ix = Int32(fx), iy = Int32(fy)
    var tx = x - fx, ty = y - fy
    tx = tx * tx * (3 - 2 * tx)
    ty = ty * ty * (3 - 2 * ty)
    let a = hash01(ix, iy, seed), b = hash01(ix &+ 1, iy, seed)
    let c = hash01(ix, iy &+ 1, seed), d = hash01(ix &+ 1, iy &+ 1, seed)
    return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty
}

/// A float RGB canvas, values in [0, 1].
struct Canvas {
    let width: Int
    let height: Int
    var data: [Float]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        data = [Float](repeating: 1, count: width * height * 3)
    }

    @inline(__always) mutating func blend(_ x: Int, _ y: Int, _ c: RGBf, _ a: Float) {
        guard a > 0 else { return }
        let i = (y * width + x) * 3
        data[i] += (c.x - data[i]) * a
        data[i + 1] += (c.y - data[i + 1]) * a
        data[i + 2] += (c.z - data[i + 2]) * a
    }

    /// Visits the pixels whose centres lie within the placed bounding circle of `shape`
    /// (plus `margin` pixels), with the pixel centre mapped back to local coordinates.
    func forEachPixel(near shape: Shape, _ place: Placement, margin: Float,
                      _ body: (Int, Int, V2) -> Void) {
        let (bc, br) = shape.bounds
        let pc = place.toPixel(bc)
        let r = br * place.scale + margin
        let x0 = max(0, Int((pc.x - r).rounded(.down))), x1 = min(width - 1, Int((pc.x + r).rounded(.up)))
        let y0 = max(0, Int((pc.y - r).rounded(.down))), y1 = min(height - 1, Int((pc.y + r).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        let c = cos(-place.angle), s = sin(-place.angle), inv = 1 / place.scale
        for y in y0 ... y1 {
            for x in x0 ... x1 {
                let d = V2(Float(x) + 0.5, Float(y) + 0.5) - place.center
                body(x, y, inv * V2(c * d.x - s * d.y, s * d.x + c * d.y))
            }
        }
    }
}
