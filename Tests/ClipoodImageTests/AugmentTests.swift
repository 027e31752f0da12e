import ClipoodEngine
import ClipoodImage
import Foundation
import Testing

@Suite("RandomResizedCrop and horizontal flip")
struct AugmentTests {
    @Test func deterministicForASeed() {
        let image = patternImage(width: 120, height: 90)
        var a = RNG(seed: 7), b = RNG(seed: 7), c = RNG(seed: 8)
        let xa = (0 ..< 5).map { _ in Preprocess.randomResizedCrop(image, size: 32, .bilinear, rng: &a) }
        let xb = (0 ..< 5).map { _ in Preprocess.randomResizedCrop(image, size: 32, .bilinear, rng: &b) }
        let xc = (0 ..< 5).map { _ in Preprocess.randomResizedCrop(image, size: 32, .bilinear, rng: &c) }
        #expect(xa == xb)
        #expect(xa != xc)
        #expect(xa.allSatisfy { $0.width == 32 && $0.height == 32 })
    }

    /// The output is exactly the chosen window, cropped, then resized with Pillow's resize.
    @Test func cropThenResize() {
        let image = patternImage(width: 75, height: 50)
        for seed in 0 ..< 20 {
            var r1 = RNG(seed: seed), r2 = RNG(seed: seed)
            let box = Preprocess.randomResizedCropBox(width: 75, height: 50, rng: &r1)
            let window = Preprocess.crop(image, top: box.top, left: box.left, height: box.height, width: box.width)
            #expect(Preprocess.randomResizedCrop(image, size: 24, .bicubic, rng: &r2) == Preprocess.resize(window, width: 24, height: 24, .bicubic))
        }
    }

    /// Over many seeds: the window lies in the image, its area is within scale × image area and
    /// its aspect within `ratio`, up to the rounding of w and h to integers (|w·h − target| ≤
    /// (w + h + 1)/2 + 1/4; aspect within the extremes of (w ± ½)/(h ∓ ½)).
    @Test(arguments: [(500, 375, 0.7 ... 1.0), (375, 500, 0.7 ... 1.0), (224, 224, 0.08 ... 1.0), (61, 47, 0.3 ... 0.9)])
    func windowsRespectScaleAndRatio(width: Int, height: Int, scale: ClosedRange<Double>) {
        let ratio = 0.75 ... (4.0 / 3.0)
        let area = Double(width * height)
        var sizes = Set<Int>()
        for seed in 0 ..< 3000 {
            var rng = RNG(seed: seed)
            let b = Preprocess.randomResizedCropBox(width: width, height: height, scale: scale, ratio: ratio, rng: &rng)
            #expect(b.top >= 0 && b.left >= 0 && b.top + b.height <= height && b.left + b.width <= width, "seed \(seed): \(b)")
            let w = Double(b.width), h = Double(b.height)
            let slack = (w + h + 1) / 2 + 0.25
            #expect(w * h >= scale.lowerBound * area - slack && w * h <= scale.upperBound * area + slack, "seed \(seed): \(b)")
            #expect((w - 0.5) / (h + 0.5) <= ratio.upperBound && (w + 0.5) / (h - 0.5) >= ratio.lowerBound, "seed \(seed): \(b)")
            sizes.insert(b.width * 10000 + b.height)
        }
        #expect(sizes.count > 100)   // the windows really vary
    }

    /// When no try fits (an extreme aspect ratio), torchvision's centre fallback: the largest
    /// centred window with the ratio clamped to the range, w = round(h · 4/3) (or h = round(w / ¾)).
    @Test func fallbackOnExtremeAspect() {
        for seed in 0 ..< 200 {
            var rng = RNG(seed: seed)
            #expect(Preprocess.randomResizedCropBox(width: 400, height: 10, rng: &rng) == .init(top: 0, left: 193, height: 10, width: 13))
            #expect(Preprocess.randomResizedCropBox(width: 10, height: 400, rng: &rng) == .init(top: 193, left: 0, height: 13, width: 10))
        }
        var rng = RNG(seed: 1)
        let out = Preprocess.randomResizedCrop(patternImage(width: 400, height: 10), size: 16, .bicubic, rng: &rng)
        #expect(out.width == 16 && out.height == 16)
    }

    @Test func horizontalFlip() {
        let image = patternImage(width: 13, height: 4)
        let flipped = Preprocess.horizontalFlip(image)
        #expect(flipped != image)
        #expect(Preprocess.horizontalFlip(flipped) == image)
        for y in 0 ..< 4 { for x in 0 ..< 13 { #expect(flipped[x, y] == image[12 - x, y]) } }
    }
}
