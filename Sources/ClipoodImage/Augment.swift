import ClipoodEngine
import Foundation

/// Training augmentation: torchvision's `RandomResizedCrop` and horizontal flip, drawing from
/// the project RNG (so a run is reproducible from its seed; the draws are not torch's).
extension Preprocess {
    /// A crop window: rows top ..< top+height, columns left ..< left+width.
    public struct CropBox: Equatable, Sendable {
        public let top: Int, left: Int, height: Int, width: Int
        public init(top: Int, left: Int, height: Int, width: Int) {
            self.top = top; self.left = left; self.height = height; self.width = width
        }
    }

    /// `RandomResizedCrop.get_params`, the same algorithm as torchvision: up to 10 tries of a
    /// target area uniform in scale × image area and an aspect ratio log-uniform in `ratio`;
    /// w = round(√(area·ratio)), h = round(√(area/ratio)) (Python's round: half to even); the
    /// first that fits is placed uniformly. If none fits, the centre fallback: the whole image
    /// clamped to the ratio range. Draws per try: two `uniformDouble()`, then two `below(_:)`
    /// for the position once a window fits.
    public static func randomResizedCropBox(width: Int, height: Int, scale: ClosedRange<Double> = 0.7 ... 1.0,
                                            ratio: ClosedRange<Double> = 0.75 ... (4.0 / 3.0), rng: inout RNG) -> CropBox {
        precondition(width > 0 && height > 0, "randomResizedCropBox: empty \(width)×\(height) image")
        let area = Double(width * height)
        let logLo = log(ratio.lowerBound), logHi = log(ratio.upperBound)
        for _ in 0 ..< 10 {
            let target = area * (scale.lowerBound + (scale.upperBound - scale.lowerBound) * rng.uniformDouble())
            let aspect = exp(logLo + (logHi - logLo) * rng.uniformDouble())
            let w = Int((target * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((target / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0 && w <= width && h > 0 && h <= height {
                let top = rng.below(height - h + 1)
                let left = rng.below(width - w + 1)
                return CropBox(top: top, left: left, height: h, width: w)
            }
        }
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < ratio.lowerBound {
            h = Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inRatio > ratio.upperBound {
            w = Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        return CropBox(top: (height - h) / 2, left: (width - w) / 2, height: h, width: w)
    }

    /// torchvision `RandomResizedCrop(size, scale, ratio, interpolation)` on a PIL image: a random
    /// window (`randomResizedCropBox`) cropped, then resized to size×size with Pillow's resize.
    public static func randomResizedCrop(_ image: RGBImage, size: Int, scale: ClosedRange<Double> = 0.7 ... 1.0,
                                         ratio: ClosedRange<Double> = 0.75 ... (4.0 / 3.0), _ filter: Interpolation,
                                         rng: inout RNG) -> RGBImage {
        let box = randomResizedCropBox(width: image.width, height: image.height, scale: scale, ratio: ratio, rng: &rng)
        let window = crop(image, top: box.top, left: box.left, height: box.height, width: box.width)
        return resize(window, width: size, height: size, filter)
    }

    /// Mirror left–right.
    public static func horizontalFlip(_ image: RGBImage) -> RGBImage {
        let w = image.width
        var out = image.pixels
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0 ..< image.height {
                    let row = y * w * 3
                    for x in 0 ..< w {
                        let s = row + x * 3, d = row + (w - 1 - x) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return RGBImage(width: w, height: image.height, pixels: out)
    }
}
