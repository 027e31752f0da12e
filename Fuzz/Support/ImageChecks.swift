import ClipoodIO
import ClipoodImage
import Foundation

// Shared by the PNG and JPEG harnesses: decoding from memory, and what a decoded image must be.
enum ImageChecks {
    /// Puts `magic` over the input's first bytes, so that every input reaches the decoder it is
    /// meant for instead of the format sniffer's refusal.
    static func withMagic(_ input: Data, _ magic: [UInt8]) -> Data {
        var data = input
        if data.count < magic.count { data.append(contentsOf: [UInt8](repeating: 0, count: magic.count - data.count)) }
        data.replaceSubrange(0 ..< magic.count, with: magic)
        return data
    }

    /// Decodes; an accepted image has positive dimensions under the pixel cap and exactly
    /// width × height × 3 bytes, and it can be preprocessed as CLIP input.
    static func decode(_ data: Data, name: String) {
        let image: RGBImage
        do { image = try ImageDecoder.decode(data: data, name: name) } catch { Fuzz.checkRefusal(error); return }
        Fuzz.check(image.width >= 1 && image.height >= 1, "decoded a \(image.width)×\(image.height) image")
        guard let pixels = Checked.product([image.width, image.height]), let bytes = Checked.multiply(pixels, 3) else {
            Fuzz.fail("decoded dimensions \(image.width)×\(image.height) overflow")
        }
        Fuzz.check(pixels <= ImageDecoder.maxPixels, "decoded \(pixels) pixels, over the cap of \(ImageDecoder.maxPixels)")
        Fuzz.check(image.pixels.count == bytes, "\(image.width)×\(image.height) image holds \(image.pixels.count) bytes")
    }
}
