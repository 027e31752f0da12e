import ClipoodEngine
import ClipoodImage
import ClipoodIO
import Foundation

/// The built-in world: a small procedural multi-domain image dataset.
///
/// Objects of `classes` are simple figures built from primitives (circles, ellipses, rings,
/// capsules, polygons), drawn in one of four `domains` — `photo` (shaded fills, soft gradient
/// background, a cast shadow), `sketch` (jittered dark pencil outlines on white paper),
/// `cartoon` (flat saturated fills with thick dark outlines on a flat background) and
/// `painting` (brush-textured fills and background, soft edges, grain). Each image has its own
/// colour (a plausible palette per class plus variation), size, position, rotation and a few
/// distractor marks, all drawn from `RNG(seed: seed).derived("\(domain)/\(class)/\(index)")`:
/// any image can be rendered alone and generation runs in any order.
///
/// A world also says what a pretraining caption may call each object (`attributes.tsv`,
/// written beside the images), and that depends on its `Preset`:
/// - `broad` (the default): only a `named` fraction of the images (by default
///   `Preset.broad.defaultNamed`, one in twenty) is captioned with its class name; every other
///   image is captioned with its coarse category ("a fruit", "an animal", "a thing", see
///   `category`). Which images are named is drawn per image, from a generator separate from the
///   image's, so the pixels are the same in every preset. A CLIP pretrained on such a world
///   knows the categories, colours, sizes and styles well but the class names only weakly: the
///   downstream task (naming the class) is not its pretraining task, so zero-shot accuracy is
///   moderate and fine-tuning has something to learn.
/// - `classic`: every caption names the class — the world the demo model was pretrained on
///   before the `broad` preset existed, kept so that older sessions reproduce their results.
public enum ShapesWorld {
    /// What pretraining captions may call the objects of a world (see the type's documentation).
    public enum Preset: String, CaseIterable, Sendable {
        case broad, classic

        /// The fraction of images whose captions name the class when `named` is not given.
        public var defaultNamed: Double {
            switch self {
            case .broad: return 0.05
            case .classic: return 1
            }
        }
    }

    /// Each class's coarse category, the word a caption uses for an image that it does not
    /// name (preset `broad`): fruit, animal, plant, toy, symbol, or "thing".
    public static func category(_ className: String) -> String {
        switch className {
        case "orange", "apple", "cherry": return "fruit"
        case "fish", "cat_face", "bird": return "animal"
        case "tree", "mushroom": return "plant"
        case "ball", "kite", "sailboat": return "toy"
        case "star", "heart", "arrow": return "symbol"
        default: return "thing"
        }
    }

    /// Whether the captions of an image name its class (true) or only its category, for a
    /// world in which a `named` fraction of the images is named. Drawn from its own generator,
    /// so that it never changes the image.
    public static func isNamed(className: String, domain: String, index: Int, seed: Int, named: Double) -> Bool {
        if named >= 1 { return true }
        if named <= 0 { return false }
        var rng = RNG(seed: seed).derived("named/\(domain)/\(className)/\(index)")
        return Double(rng.uniform(0, 1)) < named
    }

    /// Class directory names (`_` for spaces). The first 16 are the default world; grouped
    /// so that name similarity means something: round things, things with a stem or handle,
    /// pointed things, animals.
    public static let classes: [String] = [
        "ball", "orange", "wheel", "alarm_clock",
        "apple", "cherry", "lollipop", "mushroom", "umbrella",
        "star", "tree", "house", "kite",
        "fish", "cat_face", "bird",
        "coin", "arrow", "sailboat", "heart",
    ]

    /// The styles, one per DomainBed domain.
    public static let domains: [String] = ["photo", "sketch", "cartoon", "painting"]

    // MARK: Rendering

    /// One image of `className` in `domain`, `size`×`size` pixels.
    public static func render(className: String, domain: String, index: Int, size: Int, seed: Int) -> RGBImage {
        guard let style = Style(rawValue: domain) else { preconditionFailure("ShapesWorld: unknown domain \(domain)") }
        precondition(classes.contains(className), "ShapesWorld: unknown class \(className)")
        precondition(size >= 8, "ShapesWorld: size \(size) is too small")
        var rng = RNG(seed: seed).derived("\(domain)/\(className)/\(index)")
        let S = Float(size)
        let (place, parts, _) = scene(className, domain: domain, size: S, &rng)
        let scale = place.scale

        var params = StyleParams(style: style, size: S, rng: &rng)
        var canvas = Canvas(width: size, height: size)
        background(&canvas, params, &rng)

        // Distractor marks, behind the object.
        let clutter = 2 + rng.below(4)
        for _ in 0 ..< clutter {
            let s = S * rng.uniform(0.025, 0.06)
            let c = V2(rng.uniform(0, S), rng.uniform(0, S))
            let color = RGBf(rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9))
            let shape: Shape
            switch rng.below(4) {
            case 0: shape = .circle(V2(0, 0), 1)
            case 1: shape = .capsule(V2(-1.6, 0), V2(1.6, 0), 0.35)
            case 2: shape = .polygon(regular(3, radius: 1.2))
            default: shape = .ring(V2(0, 0), 0.9, 0.3)
            }
            draw([Part(shape: shape, color: color)], Placement(center: c, scale: s, angle: rng.uniform(0, 6.283)),
                 &canvas, &params)
        }

        if style == .photo {
            // A soft cast shadow under the object.
            let shadow = Shape.ellipse(V2(0, 0), V2(scale * 0.85, scale * 0.16))
            let sc = V2(place.center.x + scale * 0.1, place.center.y + scale * 0.92)
            canvas.forEachPixel(near: shadow, Placement(center: sc, scale: 1, angle: 0), margin: 4) { x, y, q in
                let d = shadow.distance(q)
                canvas.blend(x, y, RGBf(0.2, 0.2, 0.22), 0.3 * clamp01(0.5 - d / 4))
            }
        }
        draw(parts, place, &canvas, &params)

        if style == .painting {
            // Canvas grain.
            let g = params.noiseSeed
            for y in 0 ..< size {
                for x in 0 ..< size {
                    let i = (y * size + x) * 3
                    let n = hash01(Int32(x), Int32(y), g &+ 7) - 0.5
                    for k in 0 ..< 3 {
                        canvas.data[i + k] += 0.10 * n + 0.06 * (hash01(Int32(x), Int32(y), g &+ UInt32(k) &+ 11) - 0.5)
                    }
                }
            }
        }
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        for i in 0 ..< pixels.count { pixels[i] = UInt8(clamp01(canvas.data[i]) * 255 + 0.5) }
        return RGBImage(width: size, height: size, pixels: pixels)
    }

    /// What a caption can truthfully say about an image besides its class and style: the
    /// object's colour (nil in sketches, which are drawn in pencil) and its size as a word (nil
    /// for the middle third of the size range).
    public struct ObjectAttributes: Equatable, Sendable {
        public var colour: String?
        public var size: String?
        /// What a caption calls the object: nil for its class name, else a coarse word (`category`).
        public var name: String?
        public init(colour: String?, size: String?, name: String? = nil) { self.colour = colour; self.size = size; self.name = name }
    }

    /// The object's placement, parts and attributes: the first draws of an image's generator.
    static func scene(_ className: String, domain: String, size S: Float, _ rng: inout RNG) -> (Placement, [Part], ObjectAttributes) {
        let fraction = rng.uniform(0.25, 0.38)
        let scale = S * fraction
        let margin = scale * 0.95
        let place = Placement(center: V2(rng.uniform(margin, S - margin), rng.uniform(margin, S - margin)),
                              scale: scale, angle: rng.uniform(-0.45, 0.45))
        let mirror = rng.below(2) == 1
        let colour = variedColor(className, &rng)
        var parts = figure(className, color: colour.rgb, &rng)
        if mirror { parts = parts.map(mirrored) }
        let sizeWord: String? = fraction < 0.25 + 0.13 / 3 ? "small" : fraction >= 0.38 - 0.13 / 3 ? "big" : nil
        return (place, parts, ObjectAttributes(colour: domain == Style.sketch.rawValue ? nil : colour.name, size: sizeWord))
    }

    /// The attributes of the image that `render` draws with the same arguments; in a world
    /// where only a `named` fraction of the images is named (see `Preset`), `name` is the
    /// class's category for the others.
    public static func attributes(className: String, domain: String, index: Int, size: Int, seed: Int, named: Double = 1) -> ObjectAttributes {
        var rng = RNG(seed: seed).derived("\(domain)/\(className)/\(index)")
        var a = scene(className, domain: domain, size: Float(size), &rng).2
        if !isNamed(className: className, domain: domain, index: index, seed: seed, named: named) { a.name = category(className) }
        return a
    }

    /// Which pixel centres lie inside the object (not the clutter) of the image that `render`
    /// draws with the same arguments, row-major.
    public static func foregroundMask(className: String, domain: String, index: Int, size: Int, seed: Int) -> [Bool] {
        var rng = RNG(seed: seed).derived("\(domain)/\(className)/\(index)")
        let (place, parts, _) = scene(className, domain: domain, size: Float(size), &rng)
        var inside = [Bool](repeating: false, count: size * size)
        let canvas = Canvas(width: size, height: size)
        for part in parts {
            canvas.forEachPixel(near: part.shape, place, margin: 1) { x, y, q in
                if part.shape.distance(q) <= 0 { inside[y * size + x] = true }
            }
        }
        return inside
    }

    /// The fraction of pixel centres inside the object (see `foregroundMask`).
    public static func foregroundFraction(className: String, domain: String, index: Int, size: Int, seed: Int) -> Double {
        let inside = foregroundMask(className: className, domain: domain, index: index, size: size, seed: seed)
        return Double(inside.filter { $0 }.count) / Double(size * size)
    }

    // MARK: Writing

    /// Writes the world in DomainBed layout, `directory/<domain>/<class>/<index>.png` with
    /// four-digit indices, creating directories, and its `attributes.tsv`. `classes` takes the
    /// first N class names. The images are the same in every preset; `preset` and `named` (the
    /// fraction of images whose captions name the class, default the preset's; `classic` takes
    /// only 1) decide what the attributes file lets captions call each object.
    /// `progress(done, total)` is called after each image (serialised, from worker threads).
    public static func write(to directory: String, classes: Int = 16, perClass: Int = 40, size: Int = 64, seed: Int = 0,
                             preset: Preset = .broad, named: Double? = nil,
                             progress: ((Int, Int) -> Void)? = nil) throws {
        guard (1 ... self.classes.count).contains(classes) else {
            throw ShapesWorldError("classes must be 1…\(self.classes.count), not \(classes)")
        }
        let named = named ?? preset.defaultNamed
        guard (0 ... 1).contains(named) else { throw ShapesWorldError("named must be 0…1, not \(named)") }
        guard preset != .classic || named == 1 else {
            throw ShapesWorldError("named must be 1 in preset classic (every caption names the class), not \(named)")
        }
        guard perClass >= 1 else { throw ShapesWorldError("per_class must be at least 1, not \(perClass)") }
        guard size >= 8 else { throw ShapesWorldError("size must be at least 8, not \(size)") }
        let names = Array(self.classes.prefix(classes))
        for d in domains {
            for c in names {
                let dir = "\(directory)/\(d)/\(c)"
                do { try AtomicWrite.makeFolders(dir) } catch { throw ShapesWorldError(String(describing: error)) }
            }
        }
        let total = domains.count * names.count * perClass
        let lock = NSLock()
        var done = 0
        var failures: [(Int, Error)] = []
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 16))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var job = w
            while job < total {
                let i = job % perClass, c = (job / perClass) % names.count, d = job / (perClass * names.count)
                let path = "\(directory)/\(domains[d])/\(names[c])/\(fileName(i))"
                do {
                    let image = render(className: names[c], domain: domains[d], index: i, size: size, seed: seed)
                    try PNGWriter.write(image, to: path)
                    lock.lock()
                    done += 1
                    progress?(done, total)
                    lock.unlock()
                } catch {
                    lock.lock()
                    failures.append((job, error))
                    lock.unlock()
                    return
                }
                job += workers
            }
        }
        if let first = failures.min(by: { $0.0 < $1.0 }) { throw first.1 }
        // What captions may say about each image, beside the images (see `readAttributes`).
        // Preset classic writes the file as it always did (three columns); the others add the
        // name a caption uses ("-": the class name).
        var lines = preset == .classic
            ? ["# clipood shapes world, seed \(seed): path\tcolour\tsize (- when a caption should not say)"]
            : ["# clipood shapes world, preset \(preset.rawValue), named \(named), seed \(seed): path\tcolour\tsize\tname (- when a caption should not say; name -: the class name)"]
        for d in domains {
            for c in names {
                for i in 0 ..< perClass {
                    let a = attributes(className: c, domain: d, index: i, size: size, seed: seed, named: named)
                    let row = "\(d)/\(c)/\(fileName(i))\t\(a.colour ?? "-")\t\(a.size ?? "-")"
                    lines.append(preset == .classic ? row : row + "\t\(a.name ?? "-")")
                }
            }
        }
        let path = "\(directory)/\(attributesFileName)"
        do { try AtomicWrite.write(lines.joined(separator: "\n") + "\n", to: path) } catch { throw ShapesWorldError(String(describing: error)) }
    }

    /// The file `write` puts at the world's root: one line per image, its path relative to the
    /// root, its colour word, its size word and (in presets other than `classic`) the name a
    /// caption uses for it, tab-separated, `-` for none (for the name: the class name).
    public static let attributesFileName = "attributes.tsv"

    /// The attributes file under `root`, by path relative to the root; nil when there is none.
    /// Errors name the file and line.
    public static func readAttributes(root: String) throws -> [String: ObjectAttributes]? {
        let path = "\(root)/\(attributesFileName)"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text: String
        do { text = try FileReading.text(path, limit: 256 << 20) } catch { throw ShapesWorldError(String(describing: error)) }
        var out: [String: ObjectAttributes] = [:]
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 3 || f.count == 4, !f[0].isEmpty, f.dropFirst().allSatisfy({ !$0.isEmpty }) else {
                throw ShapesWorldError("\(path):\(n + 1): expected path<TAB>colour<TAB>size[<TAB>name], got '\(line)'")
            }
            // Words go into captions and the vocabulary's corpus: short words of letters and spaces.
            for (k, field) in ["colour", "size", "name"].enumerated() where k + 1 < f.count {
                let w = f[k + 1]
                guard w.count <= 32, w.allSatisfy({ $0.isLetter || $0 == " " }) || w == "-" else {
                    throw ShapesWorldError("\(path):\(n + 1): the \(field) must be a word of at most 32 letters or spaces, not '\(w.prefix(40))'")
                }
            }
            out[f[0]] = ObjectAttributes(colour: f[1] == "-" ? nil : f[1], size: f[2] == "-" ? nil : f[2],
                                         name: f.count < 4 || f[3] == "-" ? nil : f[3])
        }
        let words = Set(out.values.flatMap { [$0.colour, $0.name].compactMap { $0 } })
        guard words.count <= 256 else { throw ShapesWorldError("\(path): \(words.count) distinct colour and name words, at most 256") }
        return out
    }

    /// `7` → `0007.png`.
    public static func fileName(_ index: Int) -> String {
        let s = String(index)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s + ".png"
    }

    // MARK: Styles

    enum Style: String { case photo, sketch, cartoon, painting }

    struct StyleParams {
        let style: Style
        var light: V2 // direction the light comes from (photo)
        var outline: RGBf // cartoon outline / sketch pencil
        var outlineWidth: Float // pixels
        var jitter: [Float] // sketch: amplitude, frequency, four phases
        var noiseSeed: UInt32
        var brush: V2 // painting: brush direction
        var background: (RGBf, RGBf)

        init(style: Style, size S: Float, rng: inout RNG) {
            self.style = style
            let a = rng.uniform(3.6, 4.6) // from the upper left
            light = V2(cos(a), sin(a))
            outline = RGBf(repeating: rng.uniform(0.05, 0.2))
            outlineWidth = style == .cartoon ? max(1.6, S * rng.uniform(0.03, 0.045)) : max(0.9, S * rng.uniform(0.014, 0.022))
            jitter = [rng.uniform(0.025, 0.045), rng.uniform(5, 9), rng.uniform(0, 6.3), rng.uniform(0, 6.3),
                      rng.uniform(0, 6.3), rng.uniform(0, 6.3)]
            noiseSeed = UInt32(truncatingIfNeeded: rng.next())
            let b = rng.uniform(0, 3.1416)
            brush = V2(cos(b), sin(b))
            switch style {
            case .photo:
                let top = RGBf(rng.uniform(0.75, 0.95), rng.uniform(0.75, 0.95), rng.uniform(0.78, 0.97))
                background = (top, top * rng.uniform(0.72, 0.88))
            case .sketch:
                let paper = rng.uniform(0.96, 1.0)
                background = (RGBf(paper, paper, paper * 0.98), RGBf(paper, paper, paper * 0.98))
            case .cartoon:
                let c = hsv(rng.uniform(0, 1), rng.uniform(0.25, 0.45), rng.uniform(0.9, 1))
                background = (c, c)
            case .painting:
                let c = RGBf(rng.uniform(0.3, 0.75), rng.uniform(0.3, 0.75), rng.uniform(0.3, 0.75))
                background = (c, RGBf(rng.uniform(0.3, 0.75), rng.uniform(0.3, 0.75), rng.uniform(0.3, 0.75)))
            }
        }
    }

    static func background(_ canvas: inout Canvas, _ p: StyleParams, _ rng: inout RNG) {
        let w = canvas.width, h = canvas.height
        let (c0, c1) = p.background
        for y in 0 ..< h {
            for x in 0 ..< w {
                var c: RGBf
                switch p.style {
                case .photo:
                    let t = Float(y) / Float(h - 1)
                    let dx = (Float(x) / Float(w - 1) - 0.5)
                    c = c0 + (c1 - c0) * (t * t * (3 - 2 * t))
                    c *= 1 - 0.12 * dx * dx
                case .sketch, .cartoon:
                    c = c0
                case .painting:
                    let t = brushNoise(Float(x), Float(y), p, scale: 1)
                    let u = valueNoise(Float(x) * 0.09, Float(y) * 0.09, p.noiseSeed &+ 3)
                    c = c0 + (c1 - c0) * u
                    c = 0.55 * c + RGBf(repeating: 0.45 * (c.x + c.y + c.z) / 3) // muted, so the object stands out
                    c *= 0.75 + 0.5 * t
                }
                let i = (y * w + x) * 3
                canvas.data[i] = c.x
                canvas.data[i + 1] = c.y
                canvas.data[i + 2] = c.z
            }
        }
    }

    /// Streaky noise along the brush direction, in [0, 1).
    @inline(__always) static func brushNoise(_ x: Float, _ y: Float, _ p: StyleParams, scale: Float) -> Float {
        let u = (x * p.brush.x + y * p.brush.y) * 0.12 * scale
        let v = (-x * p.brush.y + y * p.brush.x) * 0.6 * scale
        return 0.65 * valueNoise(u, v, p.noiseSeed) + 0.35 * valueNoise(u * 2.3, v * 2.1, p.noiseSeed &+ 1)
    }

    static func draw(_ parts: [Part], _ place: Placement, _ canvas: inout Canvas, _ p: inout StyleParams) {
        let s = place.scale
        switch p.style {
        case .photo:
            for part in parts {
                let (bc, br) = part.shape.bounds
                canvas.forEachPixel(near: part.shape, place, margin: 1) { x, y, q in
                    let a = clamp01(0.5 - part.shape.distance(q) * s)
                    guard a > 0 else { return }
                    let t = (q - bc) / max(br, 0.05)
                    let shade = min(max(1.02 + 0.32 * simdDot(t, p.light) - 0.18 * simdDot(t, t), 0.45), 1.35)
                    let hi = part.line ? 0 : 0.35 * clamp01(1 - 4 * simdLength(t - 0.45 * p.light))
                    canvas.blend(x, y, part.color * shade + (1 - part.color) * hi, a)
                }
            }
        case .cartoon:
            let ow = p.outlineWidth
            for part in parts {
                var c = part.color
                let m = (c.x + c.y + c.z) / 3
                c = RGBf(clamp01(m + (c.x - m) * 1.5), clamp01(m + (c.y - m) * 1.5), clamp01(m + (c.z - m) * 1.5))
                canvas.forEachPixel(near: part.shape, place, margin: ow + 1) { x, y, q in
                    let d = part.shape.distance(q) * s
                    canvas.blend(x, y, c, clamp01(0.5 - d))
                    if !part.line { canvas.blend(x, y, p.outline, clamp01(0.5 - (abs(d) - ow * 0.5))) }
                }
            }
        case .sketch:
            let sw = p.outlineWidth, j = p.jitter
            for (pass, strength) in [(0, Float(0.95)), (1, Float(0.45))] {
                let ph = pass == 0 ? (j[2], j[3]) : (j[4], j[5])
                for part in parts {
                    canvas.forEachPixel(near: part.shape, place, margin: sw + 2 + j[0] * s) { x, y, q in
                        let qj = q + j[0] * V2(sin(q.y * j[1] + ph.0), sin(q.x * j[1] + ph.1))
                        let d = part.shape.distance(qj) * s
                        let pressure = 0.6 + 0.4 * valueNoise(qj.x * 4, qj.y * 4, p.noiseSeed &+ UInt32(pass))
                        let a = part.line ? clamp01(0.5 - min(d, abs(d) - sw * 0.5)) : clamp01(0.5 - (abs(d) - sw * 0.5))
                        canvas.blend(x, y, p.outline, a * pressure * strength)
                    }
                }
            }
        case .painting:
            for part in parts {
                let m = (part.color.x + part.color.y + part.color.z) / 3
                let vivid = RGBf(clamp01(m + (part.color.x - m) * 1.3), clamp01(m + (part.color.y - m) * 1.3),
                                 clamp01(m + (part.color.z - m) * 1.3))
                canvas.forEachPixel(near: part.shape, place, margin: 3) { x, y, q in
                    let a = clamp01(0.5 - part.shape.distance(q) * s / 2.6)
                    guard a > 0 else { return }
                    let t = brushNoise(Float(x) * 1.3, Float(y) * 1.3, p, scale: 1.5)
                    canvas.blend(x, y, vivid * (0.7 + 0.6 * t), a)
                }
            }
        }
    }

    // MARK: Colours

    static let brown = RGBf(0.45, 0.28, 0.12)
    static let leaf = RGBf(0.2, 0.6, 0.2)
    static let dark = RGBf(0.1, 0.1, 0.1)
    static let white = RGBf(0.96, 0.96, 0.94)

    /// Each class's plausible colours, named (the names go into pretraining captions).
    static func palette(_ name: String) -> [(name: String, rgb: RGBf)] {
        let red = ("red", RGBf(0.82, 0.1, 0.1)), blue = ("blue", RGBf(0.15, 0.35, 0.85)), green = ("green", RGBf(0.2, 0.62, 0.25))
        let yellow = ("yellow", RGBf(0.97, 0.82, 0.15)), purple = ("purple", RGBf(0.55, 0.3, 0.72))
        let orange = ("orange", RGBf(0.97, 0.55, 0.08)), pink = ("pink", RGBf(0.95, 0.45, 0.7))
        let black = ("black", RGBf(0.2, 0.2, 0.2)), grey = ("grey", RGBf(0.55, 0.55, 0.55)), brown = ("brown", RGBf(0.5, 0.35, 0.2))
        switch name {
        case "ball": return [orange, blue, red, yellow]
        case "orange": return [orange, ("orange", RGBf(0.95, 0.45, 0.02))]
        case "wheel": return [("black", RGBf(0.18, 0.18, 0.2)), ("grey", RGBf(0.3, 0.3, 0.32))]
        case "alarm_clock": return [red, blue, green, ("silver", RGBf(0.7, 0.7, 0.74))]
        case "apple": return [red, ("green", RGBf(0.5, 0.78, 0.2)), yellow]
        case "cherry": return [("red", RGBf(0.78, 0.05, 0.12)), ("dark red", RGBf(0.55, 0.02, 0.12))]
        case "lollipop": return [pink, red, purple, green]
        case "mushroom": return [("red", RGBf(0.85, 0.15, 0.1)), ("brown", RGBf(0.6, 0.4, 0.25)), ("beige", RGBf(0.8, 0.6, 0.4))]
        case "umbrella": return [red, blue, purple, yellow, green]
        case "star": return [yellow, ("gold", RGBf(0.9, 0.7, 0.2)), red]
        case "tree": return [("green", RGBf(0.15, 0.55, 0.2)), ("dark green", RGBf(0.1, 0.42, 0.18)), ("olive", RGBf(0.4, 0.58, 0.15))]
        case "house": return [("beige", RGBf(0.9, 0.8, 0.6)), ("light blue", RGBf(0.6, 0.75, 0.9)), yellow, ("white", RGBf(0.85, 0.85, 0.85))]
        case "kite": return [red, yellow, purple, green]
        case "fish": return [orange, blue, yellow, purple]
        case "cat_face": return [("orange", RGBf(0.95, 0.6, 0.2)), grey, ("brown", RGBf(0.45, 0.3, 0.2)), black]
        case "bird": return [blue, red, yellow, brown]
        case "coin": return [("gold", RGBf(0.9, 0.72, 0.2)), ("silver", RGBf(0.75, 0.75, 0.78)), ("copper", RGBf(0.75, 0.45, 0.25))]
        case "arrow": return [red, blue, green, black]
        case "sailboat": return [("brown", RGBf(0.55, 0.35, 0.2)), blue, red]
        case "heart": return [red, pink, ("crimson", RGBf(0.7, 0.05, 0.3))]
        default: return [red]
        }
    }

    /// The class's base colour (named) with per-image variation.
    static func variedColor(_ name: String, _ rng: inout RNG) -> (name: String, rgb: RGBf) {
        let p = palette(name)
        let (colourName, base) = p[rng.below(p.count)]
        let k = rng.uniform(0.85, 1.1)
        return (colourName, RGBf(clamp01(base.x * k + 0.05 * rng.normal()), clamp01(base.y * k + 0.05 * rng.normal()),
                                 clamp01(base.z * k + 0.05 * rng.normal())))
    }

    static func hsv(_ h: Float, _ s: Float, _ v: Float) -> RGBf {
        let h6 = (h - h.rounded(.down)) * 6
        let i = Int(h6), f = h6 - Float(i)
        let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
        switch i % 6 {
        case 0: return RGBf(v, t, p)
        case 1: return RGBf(q, v, p)
        case 2: return RGBf(p, v, t)
        case 3: return RGBf(p, q, v)
        case 4: return RGBf(t, p, v)
        default: return RGBf(v, p, q)
        }
    }

    // MARK: Figures (local units ≈ radius 1, y down)

    static func regular(_ n: Int, radius r: Float, center c: V2 = V2(0, 0), rotation: Float = -Float.pi / 2) -> [V2] {
        (0 ..< n).map { i in
            let a = rotation + 2 * Float.pi * Float(i) / Float(n)
            return c + r * V2(cos(a), sin(a))
        }
    }

    static func starPoints(_ n: Int, outer: Float, inner: Float) -> [V2] {
        (0 ..< 2 * n).map { i in
            let a = -Float.pi / 2 + Float.pi * Float(i) / Float(n)
            return (i % 2 == 0 ? outer : inner) * V2(cos(a), sin(a))
        }
    }

    /// Points on an elliptic arc from angle a0 to a1 (radians, y down).
    static func arc(_ c: V2, _ r: V2, _ a0: Float, _ a1: Float, _ steps: Int) -> [V2] {
        (0 ... steps).map { i in
            let a = a0 + (a1 - a0) * Float(i) / Float(steps)
            return c + r * V2(cos(a), sin(a))
        }
    }

    static func box(_ x0: Float, _ y0: Float, _ x1: Float, _ y1: Float) -> Shape {
        .polygon([V2(x0, y0), V2(x1, y0), V2(x1, y1), V2(x0, y1)])
    }

    static func poly(_ xy: [Float]) -> Shape {
        .polygon(stride(from: 0, to: xy.count, by: 2).map { V2(xy[$0], xy[$0 + 1]) })
    }

    static func line(_ x0: Float, _ y0: Float, _ x1: Float, _ y1: Float, _ r: Float = 0.045, _ c: RGBf = dark) -> Part {
        Part(shape: .capsule(V2(x0, y0), V2(x1, y1), r), color: c, line: true)
    }

    static func mirrored(_ part: Part) -> Part {
        func m(_ v: V2) -> V2 { V2(-v.x, v.y) }
        var p = part
        switch part.shape {
        case let .circle(c, r): p.shape = .circle(m(c), r)
        case let .ellipse(c, r): p.shape = .ellipse(m(c), r)
        case let .ring(c, r, w): p.shape = .ring(m(c), r, w)
        case let .capsule(a, b, r): p.shape = .capsule(m(a), m(b), r)
        case let .polygon(v): p.shape = .polygon(v.reversed().map(m))
        }
        return p
    }

    static func figure(_ name: String, color c: RGBf, _ rng: inout RNG) -> [Part] {
        let darker = c * 0.7
        switch name {
        case "ball":
            return [Part(shape: .circle(V2(0, 0), 0.9), color: c),
                    line(-0.9, 0, 0.9, 0), line(0, -0.9, 0, 0.9),
                    line(-0.55, -0.6, -0.42, 0, 0.04), line(-0.42, 0, -0.55, 0.6, 0.04),
                    line(0.55, -0.6, 0.42, 0, 0.04), line(0.42, 0, 0.55, 0.6, 0.04)]
        case "orange":
            return [Part(shape: .circle(V2(0, 0.08), 0.85), color: c),
                    line(0, -0.72, 0.04, -0.9, 0.06, brown),
                    Part(shape: poly([0.04, -0.82, 0.3, -1.0, 0.62, -0.92, 0.34, -0.76]), color: leaf),
                    Part(shape: .circle(V2(0.3, -0.25), 0.05), color: darker, line: true),
                    Part(shape: .circle(V2(-0.35, 0.3), 0.05), color: darker, line: true)]
        case "wheel":
            var p = [Part(shape: .ring(V2(0, 0), 0.8, 0.15), color: c),
                     Part(shape: .ring(V2(0, 0), 0.6, 0.05), color: RGBf(0.7, 0.7, 0.72), line: true)]
            for k in 0 ..< 8 {
                let a = Float(k) * Float.pi / 4
                p.append(line(0, 0, 0.6 * cos(a), 0.6 * sin(a), 0.035, RGBf(0.6, 0.6, 0.62)))
            }
            p.append(Part(shape: .circle(V2(0, 0), 0.15), color: RGBf(0.55, 0.55, 0.58)))
            return p
        case "alarm_clock":
            return [line(-0.45, 0.55, -0.65, 0.95, 0.07), line(0.45, 0.55, 0.65, 0.95, 0.07),
                    Part(shape: .circle(V2(-0.55, -0.62), 0.27), color: c),
                    Part(shape: .circle(V2(0.55, -0.62), 0.27), color: c),
                    Part(shape: .circle(V2(0, 0.05), 0.78), color: c),
                    Part(shape: .circle(V2(0, 0.05), 0.62), color: white),
                    line(0, 0.05, 0, -0.4, 0.05), line(0, 0.05, 0.32, 0.18, 0.05),
                    Part(shape: .circle(V2(0, 0.05), 0.07), color: dark, line: true)]
        case "apple":
            return [Part(shape: .ellipse(V2(-0.28, 0.12), V2(0.58, 0.72)), color: c),
                    Part(shape: .ellipse(V2(0.28, 0.12), V2(0.58, 0.72)), color: c),
                    line(0, -0.5, 0.08, -0.95, 0.06, brown),
                    Part(shape: poly([0.1, -0.78, 0.35, -0.98, 0.66, -0.9, 0.38, -0.72]), color: leaf)]
        case "cherry":
            return [line(-0.38, 0.2, 0.05, -0.8, 0.045, RGBf(0.3, 0.5, 0.15)),
                    line(0.35, 0.25, 0.05, -0.8, 0.045, RGBf(0.3, 0.5, 0.15)),
                    Part(shape: poly([0.05, -0.8, 0.35, -0.98, 0.7, -0.85, 0.35, -0.7]), color: leaf),
                    Part(shape: .circle(V2(-0.42, 0.52), 0.38), color: c),
                    Part(shape: .circle(V2(0.38, 0.57), 0.38), color: c)]
        case "lollipop":
            return [line(0, 0.1, 0, 1.0, 0.065, RGBf(0.93, 0.9, 0.82)),
                    Part(shape: .circle(V2(0, -0.35), 0.6), color: c),
                    Part(shape: .ring(V2(0, -0.35), 0.4, 0.05), color: white, line: true),
                    Part(shape: .ring(V2(0, -0.35), 0.18, 0.05), color: white, line: true)]
        case "mushroom":
            var p = [Part(shape: box(-0.25, -0.05, 0.25, 0.85), color: RGBf(0.93, 0.88, 0.76)),
                     Part(shape: .polygon(arc(V2(0, 0.05), V2(0.92, 0.85), Float.pi, 2 * Float.pi, 20)), color: c)]
            for (x, y, r) in [(-0.45, -0.2, 0.12), (0.1, -0.5, 0.13), (0.5, -0.18, 0.1)] as [(Float, Float, Float)] {
                p.append(Part(shape: .circle(V2(x + rng.uniform(-0.05, 0.05), y), r), color: white, line: true))
            }
            return p
        case "umbrella":
            var canopy = arc(V2(0, 0.05), V2(0.95, 0.9), Float.pi, 2 * Float.pi, 20)
            canopy += stride(from: 0.95 - 0.3166, through: -0.96, by: -0.3166).map { V2($0, 0.05 - 0.12) }
                .enumerated().map { $0.offset % 2 == 0 ? $0.element : V2($0.element.x, 0.05) }
            return [line(0, -0.85, 0, 0.8, 0.045), line(0, 0.8, -0.12, 0.95, 0.045), line(-0.12, 0.95, -0.26, 0.85, 0.045),
                    Part(shape: .polygon(canopy), color: c), line(0, -0.85, 0, -1.0, 0.05)]
        case "star":
            return [Part(shape: .polygon(starPoints(5, outer: 0.98, inner: 0.42)), color: c)]
        case "tree":
            return [Part(shape: box(-0.13, 0.45, 0.13, 0.97), color: brown),
                    Part(shape: poly([-0.8, 0.55, 0, -0.2, 0.8, 0.55]), color: c),
                    Part(shape: poly([-0.65, 0.15, 0, -0.6, 0.65, 0.15]), color: c),
                    Part(shape: poly([-0.5, -0.25, 0, -0.97, 0.5, -0.25]), color: c)]
        case "house":
            return [Part(shape: box(0.35, -0.85, 0.55, -0.3), color: RGBf(0.55, 0.3, 0.25)),
                    Part(shape: box(-0.72, -0.15, 0.72, 0.88), color: c),
                    Part(shape: poly([-0.95, -0.1, 0, -0.95, 0.95, -0.1]), color: RGBf(0.7, 0.2, 0.15)),
                    Part(shape: box(-0.45, 0.35, -0.1, 0.88), color: brown),
                    Part(shape: box(0.18, 0.15, 0.5, 0.45), color: RGBf(0.6, 0.8, 0.95))]
        case "kite":
            return [line(0, 0.55, 0.15, 0.72, 0.03), line(0.15, 0.72, -0.05, 0.85, 0.03), line(-0.05, 0.85, 0.1, 1.0, 0.03),
                    Part(shape: poly([0.05, 0.7, 0.25, 0.62, 0.25, 0.82]), color: c, line: true),
                    Part(shape: poly([0.0, 0.88, -0.2, 0.78, -0.2, 0.98]), color: c, line: true),
                    Part(shape: poly([0, -0.95, 0.6, -0.2, 0, 0.55, -0.6, -0.2]), color: c),
                    line(0, -0.95, 0, 0.55, 0.03), line(-0.6, -0.2, 0.6, -0.2, 0.03)]
        case "fish":
            return [Part(shape: poly([-0.45, 0, -1.0, -0.5, -0.9, 0, -1.0, 0.5]), color: darker),
                    Part(shape: poly([-0.15, -0.3, 0.15, -0.65, 0.35, -0.32]), color: darker),
                    Part(shape: .ellipse(V2(0.1, 0), V2(0.72, 0.42)), color: c),
                    Part(shape: .circle(V2(0.52, -0.08), 0.08), color: dark, line: true),
                    line(0.28, -0.3, 0.2, 0.3, 0.03, darker)]
        case "cat_face":
            return [Part(shape: poly([-0.72, -0.15, -0.6, -0.98, -0.12, -0.6]), color: c),
                    Part(shape: poly([0.72, -0.15, 0.6, -0.98, 0.12, -0.6]), color: c),
                    Part(shape: .ellipse(V2(0, 0.12), V2(0.8, 0.7)), color: c),
                    Part(shape: .ellipse(V2(-0.3, -0.02), V2(0.1, 0.15)), color: RGBf(0.2, 0.6, 0.2), line: true),
                    Part(shape: .ellipse(V2(0.3, -0.02), V2(0.1, 0.15)), color: RGBf(0.2, 0.6, 0.2), line: true),
                    Part(shape: poly([-0.1, 0.22, 0.1, 0.22, 0, 0.34]), color: RGBf(0.95, 0.5, 0.6), line: true),
                    line(-0.2, 0.35, -0.85, 0.25, 0.025), line(-0.2, 0.42, -0.85, 0.5, 0.025),
                    line(0.2, 0.35, 0.85, 0.25, 0.025), line(0.2, 0.42, 0.85, 0.5, 0.025)]
        case "bird":
            return [line(0, 0.45, -0.05, 0.85, 0.035, RGBf(0.8, 0.5, 0.1)), line(0.2, 0.45, 0.2, 0.85, 0.035, RGBf(0.8, 0.5, 0.1)),
                    Part(shape: poly([-0.5, 0, -1.0, -0.3, -0.95, 0.3]), color: darker),
                    Part(shape: .ellipse(V2(0, 0.1), V2(0.65, 0.42)), color: c),
                    Part(shape: .circle(V2(0.55, -0.32), 0.32), color: c),
                    Part(shape: poly([0.82, -0.42, 1.08, -0.3, 0.82, -0.2]), color: RGBf(0.95, 0.6, 0.1)),
                    Part(shape: poly([-0.35, -0.02, 0.25, 0.0, -0.15, 0.35]), color: darker),
                    Part(shape: .circle(V2(0.62, -0.38), 0.06), color: dark, line: true)]
        case "coin":
            return [Part(shape: .circle(V2(0, 0), 0.8), color: c),
                    Part(shape: .ring(V2(0, 0), 0.62, 0.04), color: darker, line: true),
                    line(0, -0.35, 0, 0.35, 0.07, darker), line(0, -0.35, -0.15, -0.2, 0.06, darker)]
        case "arrow":
            return [Part(shape: poly([-0.95, -0.17, 0.22, -0.17, 0.22, -0.5, 0.97, 0, 0.22, 0.5, 0.22, 0.17, -0.95, 0.17]), color: c)]
        case "sailboat":
            return [line(0, -0.95, 0, 0.45, 0.04, brown),
                    Part(shape: poly([0.08, -0.9, 0.08, 0.3, 0.75, 0.3]), color: white),
                    Part(shape: poly([-0.08, -0.65, -0.08, 0.3, -0.6, 0.3]), color: white),
                    Part(shape: poly([-0.9, 0.42, 0.9, 0.42, 0.6, 0.8, -0.6, 0.8]), color: c)]
        case "heart":
            let pts = (0 ..< 40).map { i -> V2 in
                let t = 2 * Float.pi * Float(i) / 40
                let s = sin(t)
                return V2(16 * s * s * s, -(13 * cos(t) - 5 * cos(2 * t) - 2 * cos(3 * t) - cos(4 * t)) - 2) / 16.5
            }
            return [Part(shape: .polygon(pts), color: c)]
        default:
            preconditionFailure("ShapesWorld: no figure for \(name)")
        }
    }
}
