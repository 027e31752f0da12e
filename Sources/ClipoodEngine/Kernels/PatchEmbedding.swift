/// Patch embedding: a convolution whose stride equals its kernel (CLIP's `conv1`, no bias by
/// default), done as im2col + one GEMM.
///
/// Patches are taken row by row over a GH × GW grid (GH = H / P, GW = W / P), each flattened
/// in the order of the weight's (c, ky, kx) dimensions, so the PyTorch weight (C, 3, P, P) is
/// used as a (C, 3·P·P) matrix without any reordering.
public enum PatchEmbedding {
    /// Copies every patch of `images` into one row of `patches`.
    public static func im2col(patches: UnsafeMutablePointer<Float>,   // (B·GH·GW, CI·P·P)
                              images: UnsafePointer<Float>,           // (B, CI, H, W)
                              B: Int, CI: Int, H: Int, W: Int, P: Int) {
        let GH = H / P, GW = W / P, K = CI * P * P
        for b in 0 ..< B {
            for gy in 0 ..< GH {
                for gx in 0 ..< GW {
                    var dst = patches + ((b * GH + gy) * GW + gx) * K
                    for c in 0 ..< CI {
                        for ky in 0 ..< P {
                            let src = images + ((b * CI + c) * H + gy * P + ky) * W + gx * P
                            dst.update(from: src, count: P)
                            dst += P
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds each patch row back into image positions.
    public static func col2imAccumulate(dimages: UnsafeMutablePointer<Float>, dpatches: UnsafePointer<Float>,
                                        B: Int, CI: Int, H: Int, W: Int, P: Int) {
        let GH = H / P, GW = W / P, K = CI * P * P
        for b in 0 ..< B {
            for gy in 0 ..< GH {
                for gx in 0 ..< GW {
                    var src = dpatches + ((b * GH + gy) * GW + gx) * K
                    for c in 0 ..< CI {
                        for ky in 0 ..< P {
                            let dst = dimages + ((b * CI + c) * H + gy * P + ky) * W + gx * P
                            for kx in 0 ..< P { dst[kx] += src[kx] }
                            src += P
                        }
                    }
                }
            }
        }
    }

    /// out(B, GH·GW, C) = im2col(images) · Wᵀ (+ bias). `patches` is saved for the backward.
    public static func forward(out: UnsafeMutablePointer<Float>,       // (B, GH·GW, C)
                               patches: UnsafeMutablePointer<Float>,   // (B·GH·GW, CI·P·P)
                               images: UnsafePointer<Float>,           // (B, CI, H, W)
                               weight: UnsafePointer<Float>,           // (C, CI, P, P)
                               bias: UnsafePointer<Float>?,            // (C)
                               B: Int, CI: Int, H: Int, W: Int, P: Int, C: Int) {
        precondition(H % P == 0 && W % P == 0, "PatchEmbedding: image \(H)×\(W) is not a multiple of patch \(P)")
        im2col(patches: patches, images: images, B: B, CI: CI, H: H, W: W, P: P)
        Linear.forward(out: out, inp: patches, weight: weight, bias: bias, N: B * (H / P) * (W / P), C: CI * P * P, OC: C)
    }

    /// `scratch` (B·GH·GW, CI·P·P) is needed only when `dimages` is requested.
    public static func backward(dimages: UnsafeMutablePointer<Float>?,   // (B, CI, H, W)
                                dweight: UnsafeMutablePointer<Float>?,   // (C, CI, P, P)
                                dbias: UnsafeMutablePointer<Float>?,     // (C)
                                scratch: UnsafeMutablePointer<Float>?,   // (B·GH·GW, CI·P·P)
                                dout: UnsafePointer<Float>,              // (B, GH·GW, C)
                                patches: UnsafePointer<Float>,
                                weight: UnsafePointer<Float>,
                                B: Int, CI: Int, H: Int, W: Int, P: Int, C: Int) {
        let N = B * (H / P) * (W / P), K = CI * P * P
        var dpatches: UnsafeMutablePointer<Float>? = nil
        if dimages != nil {
            guard let scratch else { preconditionFailure("PatchEmbedding.backward: dimages needs scratch") }
            scratch.update(repeating: 0, count: N * K)
            dpatches = scratch
        }
        Linear.backward(dinp: dpatches, dweight: dweight, dbias: dbias, dout: dout, inp: patches, weight: weight, N: N, C: K, OC: C)
        if let dimages, let dpatches {
            col2imAccumulate(dimages: dimages, dpatches: dpatches, B: B, CI: CI, H: H, W: W, P: P)
        }
    }
}
