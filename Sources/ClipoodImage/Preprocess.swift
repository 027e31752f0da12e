/// Resampling filter for resizes: CLIP's own preprocessing (and Hugging Face's resample=3) is
/// bicubic; the official CLIPood transforms use torchvision's default, bilinear.
public enum Interpolation: String, CaseIterable, Sendable {
    case bicubic, bilinear
}

/// CLIP's image preprocessing, matching torchvision's transforms on PIL images:
/// `Resize(S, interpolation)` (Pillow's antialiased resize) → `CenterCrop(S)` → `ToTensor()` →
/// `Normalize(mean, std)`.
public enum Preprocess {
    /// OpenAI CLIP's normalisation constants (RGB).
    public static let clipMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let clipStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// Pillow's `Image.resize((width, height), filter)` for an RGB image, byte for byte.
    public static func resize(_ image: RGBImage, width: Int, height: Int, _ filter: Interpolation) -> RGBImage {
        Resample.resize(image, width: width, height: height, filter)
    }

    /// The size torchvision's `Resize(size)` gives: the shorter side becomes `size`, the longer
    /// int(size · long / short) (truncated, computed in Double as Python does).
    public static func shorterSideSize(width: Int, height: Int, to size: Int) -> (width: Int, height: Int) {
        precondition(width > 0 && height > 0 && size > 0, "shorterSideSize: sizes must be positive")
        let short = min(width, height), long = max(width, height)
        let newLong = Int(Double(size * long) / Double(short))
        return width <= height ? (size, newLong) : (newLong, size)
    }

    /// torchvision `Resize(size)` on a PIL image: shorter side to `size`, aspect kept.
    public static func resizeShorterSide(_ image: RGBImage, to size: Int, _ filter: Interpolation) -> RGBImage {
        let s = shorterSideSize(width: image.width, height: image.height, to: size)
        return resize(image, width: s.width, height: s.height, filter)
    }

    /// Where torchvision's `CenterCrop` takes a `size`-long window from a `length`-long side:
    /// Python's round((length − size)/2), which rounds halves to even (65 → 48 starts at 8, not 9),
    /// or, when the side is shorter than the crop, −⌊(size − length)/2⌋ (the image sits after
    /// that much zero padding).
    public static func centerCropOffset(length: Int, size: Int) -> Int {
        if size > length { return -((size - length) / 2) }
        let d = length - size
        let q = d / 2
        return d % 2 == 0 ? q : (q % 2 == 0 ? q : q + 1)
    }

    /// torchvision `CenterCrop(size)`: a size×size window at the centre; a side shorter than
    /// `size` is padded with zeros first (torchvision pads ⌊(size − len)/2⌋ before, the rest after).
    public static func centerCrop(_ image: RGBImage, size: Int) -> RGBImage {
        crop(image, top: centerCropOffset(length: image.height, size: size),
             left: centerCropOffset(length: image.width, size: size), height: size, width: size)
    }

    /// A height×width window whose top-left corner is at (left, top) in the image; parts outside
    /// the image are black (as Pillow's `crop`).
    public static func crop(_ image: RGBImage, top: Int, left: Int, height: Int, width: Int) -> RGBImage {
        precondition(height >= 0 && width >= 0, "crop: negative size \(width)×\(height)")
        if top == 0 && left == 0 && height == image.height && width == image.width { return image }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        let x0 = max(left, 0), x1 = min(left + width, image.width)
        if x0 < x1 {
            image.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for y in max(top, 0) ..< min(top + height, image.height) {
                        let from = src.baseAddress! + (y * image.width + x0) * 3
                        let to = dst.baseAddress! + ((y - top) * width + (x0 - left)) * 3
                        to.update(from: from, count: (x1 - x0) * 3)
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// `ToTensor()` then `Normalize(mean, std)`: CHW floats (x/255 − mean)/std written to
    /// out[0 ..< 3·H·W], each step in Float32 as torch does (so the values are torch's bits).
    public static func normalize(_ image: RGBImage, into out: UnsafeMutablePointer<Float>,
                                 mean: [Float] = clipMean, std: [Float] = clipStd) {
        precondition(mean.count == 3 && std.count == 3, "normalize: mean and std need 3 values")
        // One table per channel: 256 values computed exactly as torch computes them.
        var table = [Float](repeating: 0, count: 3 * 256)
        for c in 0 ..< 3 {
            for v in 0 ..< 256 { table[c * 256 + v] = (Float(v) / 255 - mean[c]) / std[c] }
        }
        let plane = image.width * image.height
        image.pixels.withUnsafeBufferPointer { p in
            table.withUnsafeBufferPointer { t in
                for i in 0 ..< plane {
                    out[i] = t[Int(p[3 * i])]
                    out[plane + i] = t[256 + Int(p[3 * i + 1])]
                    out[2 * plane + i] = t[512 + Int(p[3 * i + 2])]
                }
            }
        }
    }

    /// CLIP's evaluation transform: shorter side to `size`, centre crop size×size, normalise
    /// with CLIP's mean/std → 3·size·size floats at `out`.
    public static func evalTransform(_ image: RGBImage, size: Int, _ filter: Interpolation = .bicubic,
                                     into out: UnsafeMutablePointer<Float>) {
        normalize(centerCrop(resizeShorterSide(image, to: size, filter), size: size), into: out)
    }
}
