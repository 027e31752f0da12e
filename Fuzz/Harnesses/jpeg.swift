import CTurboJPEG
import ClipoodImage
import Foundation

// JPEG decoding (libjpeg-turbo through ImageDecoder), from memory. See ImageChecks for the invariants.
enum Harness {
    static func run(_ input: Data) {
        ImageChecks.decode(ImageChecks.withMagic(input, [0xff, 0xd8]), name: "fuzz.jpg")
    }

    /// Small JPEGs from libjpeg-turbo's encoder: colour subsamplings, progressive, grey, CMYK.
    static func seeds() -> [String: Data] {
        func jpeg(width: Int, height: Int, format: TJPF, subsampling: TJSAMP, flags: Int32 = 0, quality: Int32 = 75) -> Data {
            let channels = pixelSize(format)
            var pixels = [UInt8](repeating: 0, count: width * height * channels)
            for i in pixels.indices { pixels[i] = UInt8((i * 37 + i / 7 * 11) & 0xff) }
            let handle = tjInitCompress()!
            defer { tjDestroy(handle) }
            var buffer: UnsafeMutablePointer<UInt8>? = nil
            var size: UInt = 0
            let rc = tjCompress2(handle, pixels, Int32(width), 0, Int32(height), Int32(format.rawValue), &buffer, &size,
                                 Int32(subsampling.rawValue), quality, flags)
            precondition(rc == 0, "tjCompress2: " + String(cString: tjGetErrorStr2(handle)))
            defer { tjFree(buffer) }
            return Data(bytes: buffer!, count: Int(size))
        }
        func pixelSize(_ f: TJPF) -> Int { f == TJPF_GRAY ? 1 : f == TJPF_CMYK ? 4 : 3 }
        return [
            "rgb-420.jpg": jpeg(width: 16, height: 8, format: TJPF_RGB, subsampling: TJSAMP_420),
            "rgb-444.jpg": jpeg(width: 5, height: 3, format: TJPF_RGB, subsampling: TJSAMP_444, quality: 95),
            "rgb-422-progressive.jpg": jpeg(width: 9, height: 9, format: TJPF_RGB, subsampling: TJSAMP_422, flags: Int32(TJFLAG_PROGRESSIVE)),
            "grey.jpg": jpeg(width: 7, height: 5, format: TJPF_GRAY, subsampling: TJSAMP_GRAY),
            "cmyk.jpg": jpeg(width: 4, height: 4, format: TJPF_CMYK, subsampling: TJSAMP_444),
        ]
    }
}
