import ClipoodImage
import Foundation
import TestSupport
import Testing

@Suite("resize, crop and normalise like torchvision on PIL images")
struct PreprocessTests {
    /// Every resize in the fixtures, both filters: Pillow's fixed-point resampling is reproduced
    /// exactly (same coefficients, same 22-bit weights, same per-pass rounding, same pass order),
    /// so the bound enforced is 0 levels, not the 1 level that a float implementation would need.
    @Test func resizedMatchesPillow() throws {
        let expected = try Fixtures.expected()
        for entry in try Fixtures.manifest().images {
            let decoded = try Fixtures.image(expected, "decoded.\(entry.file)")
            for output in entry.outputs {
                let filter = try #require(Interpolation(rawValue: output.interpolation))
                let size = Preprocess.shorterSideSize(width: decoded.width, height: decoded.height, to: entry.size)
                #expect(size.width == output.resized_width && size.height == output.resized_height, "\(output.resized)")
                let ours = Preprocess.resizeShorterSide(decoded, to: entry.size, filter)
                let diff = ByteDifference(ours, try Fixtures.image(expected, output.resized))
                print("\(output.resized) (\(decoded.width)×\(decoded.height) → \(ours.width)×\(ours.height), \(filter)): \(diff)")
                #expect(diff.max == 0, "\(output.resized): \(diff)")
            }
        }
    }

    /// The whole eval transform against torchvision's tensors. The acceptance bar is 2/255 per
    /// value and 0.5/255 on average (in pixel units, i.e. the normalised difference × std); since
    /// decoding and resizing are exact and ToTensor/Normalize are computed in Float32 in torch's
    /// order, the measured difference is 0.
    @Test func evalTransformMatchesTorchvision() throws {
        let expected = try Fixtures.expected()
        let std = Preprocess.clipStd
        for entry in try Fixtures.manifest().images {
            let image = try ImageDecoder.decode(path: Fixtures.path(entry.file))
            for output in entry.outputs {
                let filter = try #require(Interpolation(rawValue: output.interpolation))
                let s = entry.size
                #expect(expected.entries[output.pixels]!.shape == [3, s, s])
                let reference = try expected.floats(output.pixels)
                var ours = [Float](repeating: .nan, count: 3 * s * s)
                ours.withUnsafeMutableBufferPointer { Preprocess.evalTransform(image, size: s, filter, into: $0.baseAddress!) }
                var maxPixel = 0.0, sumPixel = 0.0
                for i in 0 ..< ours.count {
                    let d = abs(Double(ours[i]) - Double(reference[i])) * Double(std[i / (s * s)])
                    maxPixel = max(maxPixel, d); sumPixel += d
                }
                let meanPixel = sumPixel / Double(ours.count)
                let normalised = maxAbsDifference(ours, reference).value
                print("\(output.pixels): max |Δ| \(normalised) normalised = \(maxPixel * 255)/255 in pixels, mean \(meanPixel * 255)/255")
                #expect(maxPixel <= 2.0 / 255 && meanPixel <= 0.5 / 255, "\(output.pixels)")
                #expect(maxPixel == 0, "\(output.pixels): expected bit-exact, max \(maxPixel * 255)/255")
            }
        }
    }

    /// torchvision's CenterCrop offsets are Python round((dim − S)/2): halves round to even.
    @Test func centerCropRoundsHalfToEven() throws {
        #expect(Preprocess.centerCropOffset(length: 65, size: 48) == 8)     // palette_p.png: 8.5 → 8
        #expect(Preprocess.centerCropOffset(length: 225, size: 224) == 0)   // photo_progressive.jpg: 0.5 → 0
        #expect(Preprocess.centerCropOffset(length: 67, size: 48) == 10)    // 9.5 → 10
        #expect(Preprocess.centerCropOffset(length: 68, size: 48) == 10)
        let expected = try Fixtures.expected()
        for entry in try Fixtures.manifest().images {
            for output in entry.outputs {
                #expect(Preprocess.centerCropOffset(length: output.resized_width, size: entry.size) == output.crop_left, "\(output.resized)")
                #expect(Preprocess.centerCropOffset(length: output.resized_height, size: entry.size) == output.crop_top, "\(output.resized)")
            }
        }
        // The crops themselves, on the two fixtures where rounding half up would be wrong.
        for (file, left) in [("palette_p.png", 8), ("photo_progressive.jpg", 0)] {
            let resized = try Fixtures.image(expected, "resized.\(file)")
            let s = resized.height
            let crop = Preprocess.centerCrop(resized, size: s)
            #expect(crop.width == s && crop.height == s)
            #expect(crop == Preprocess.crop(resized, top: 0, left: left, height: s, width: s), "\(file)")
            #expect(crop != Preprocess.crop(resized, top: 0, left: left + 1, height: s, width: s), "\(file)")
        }
    }

    /// A side shorter than the crop is zero-padded as torchvision does: ⌊(S − len)/2⌋ before.
    @Test func centerCropPadsSmallImages() {
        let image = patternImage(width: 31, height: 50)
        let crop = Preprocess.centerCrop(image, size: 40)      // width: pad 4 left, 5 right; height: rows 5 ..< 45
        #expect(crop.width == 40 && crop.height == 40)
        for y in 0 ..< 40 {
            for x in 0 ..< 40 {
                if x < 4 || x >= 35 {
                    #expect(crop[x, y] == (0, 0, 0))
                } else {
                    #expect(crop[x, y] == image[x - 4, y + 5])
                }
            }
        }
        // Both sides padded: width 3 → 0 before, 1 after; height 2 → 1 before, 1 after.
        let small = patternImage(width: 3, height: 2)
        let tiny = Preprocess.centerCrop(small, size: 4)
        #expect(tiny[0, 0] == (0, 0, 0) && tiny[0, 1] == small[0, 0] && tiny[2, 2] == small[2, 1])
        #expect(tiny[3, 1] == (0, 0, 0) && tiny[1, 3] == (0, 0, 0))
    }

    @Test func normalizeUsesTorchArithmetic() {
        let image = RGBImage(width: 2, height: 1, pixels: [0, 128, 255, 7, 8, 9])
        var out = [Float](repeating: 0, count: 6)
        out.withUnsafeMutableBufferPointer { Preprocess.normalize(image, into: $0.baseAddress!) }
        let m = Preprocess.clipMean, s = Preprocess.clipStd
        #expect(out == [(0 / 255 - m[0]) / s[0], (7 / 255 - m[0]) / s[0],
                        (Float(128) / 255 - m[1]) / s[1], (Float(8) / 255 - m[1]) / s[1],
                        (Float(255) / 255 - m[2]) / s[2], (Float(9) / 255 - m[2]) / s[2]])
    }

    /// Pillow 13 runs the vertical pass first when the height shrinks by more than twice as many
    /// pixels as the width (python-pillow/Pillow#9549). None of the file fixtures hits that case
    /// (CLIP's shorter-side resizes rarely do; random crops do), so these outputs were made with
    /// Pillow 13.0.0 from `patternImage` (same formula in numpy), e.g.
    ///   Image.fromarray(pattern(24, 40)).resize((20, 10), Image.BICUBIC).tobytes().hex()
    /// For each case the other pass order gives different bytes, so the order is really tested;
    /// the third case is the boundary (30 − 20 = 2·(20 − 15): horizontal first).
    struct PillowCase: CustomStringConvertible, Sendable {
        let width: Int, height: Int, outWidth: Int, outHeight: Int
        let filter: Interpolation
        let verticalFirst: Bool
        let hex: String
        init(_ w: Int, _ h: Int, _ ow: Int, _ oh: Int, _ filter: Interpolation, verticalFirst: Bool, hex: String) {
            width = w; height = h; outWidth = ow; outHeight = oh; self.filter = filter; self.verticalFirst = verticalFirst; self.hex = hex
        }
        var description: String { "\(width)×\(height) → \(outWidth)×\(outHeight) \(filter)" }
    }

    static let pillowCases: [PillowCase] = [
        PillowCase(24, 40, 20, 10, .bicubic, verticalFirst: true, hex: "5fb08792b374ab8c88a189736496737ba88e6c3eb2b85e8f7fa35b7841a89f896f744aa69c6f6b4399a189a8499c56886a59bf4f8fa857a08a75ac83854f4d8a5d778185b18e64b9af5b8ac5943c45a39a8e438284b0667c59b8708f6e77618b6b9f7aa1676b5d82a070a97269a6858580a38a7a78705c825895864dca8829b79b5655bc96448ca097413f91909c667483766da27a7e7688617b888183729a95667083649464807588777075a58268877b778f7c5ecf744dd8894f9eaa894d90a18d4c599a9386657a827c968b7685776b8987816b8c7e8583839da4a290a494b0647f996170598d8c7f778a8b959b8d6783af7f69957e87767a7a7476757776729b879983817e6c868fa26060645a66798f8a8d96a97d81ad7792666b917d848e80957d7a81746a848e7e907e8e9c7aa9867fad948e7074776e6f8b86967f7f70818b697eaa6e777989636f7a7f8b6e67a45e71a4757d9c707f66947f75987a75938c676e69b15d7a8e8d79837d746b595e564d6c7f89847e736d6f6988828273917a7a72828cb17969a07b966974928f7e79737751949182845d876ca392677a7b9c68988363896d5a765e6e995e945e857b6f875b828d887c768a717e787d846181777e6d868e9e7788777770927f7d67958c8374825e8189847a87879a83b3698d8985886a7b8e637699755ca891837073708895529373748a7a7d72a3835c7679916e8b6f809382a38b969da58c8288b58d7d616d997eb990546089a459969077737bab7e768d7b649b7b51767958826298856eb98e588da9818e558f5a5076a1c17cb555ba968b79965bbc71916a8e6ba68cbc7747"),
        PillowCase(16, 20, 17, 19, .bilinear, verticalFirst: true, hex: "0a9037877b157f2fc9751cde741eb05628ae5b42c8833b68b44b88d58bae9c7a6b5622757b4f31298c88653eadd9a75a8115db8271ef65ead266e7b965e2823fe37d2dcb9043d7ab6b75b38138d0a879a497b3635497a8a855a5bd955f703cbad08155912d1d52e6b457ce9cd2c25ee9b856f5986275a17251c56f4a798a5b21c8a5399ca58f465d9b868855b1ce906d691ebe349b46744de152be52c5ab3fca9637cf6e5bd4734cc99136e1b14e88c384536ec09a3c7ecb922bae8c938b2dbfb77a6d8838a9b2ae639a64d0c38a30b47b21b14d48ad4fc79a656eae7b31dd843ea4ac735573a16d3e696c813a347ba16e47bc50935f5f44cc229f77c65a21a73b149e32408e34b57370d6845df1ab4f92d17237c2b2467f9c937f599498776c66969d7860b6a49c748441ae3ace8de48d217a26427521ab5662bd63dfd0825ade9e42e5b36c7158a75439b5998b85aeb3938da0af807068923da26299642b38ad9693ae5b3f18ac3f5dac4bcfb84da5ba6c44bb813ae1b155806c8f5843658e853b6a7b9a4a58b58b9559724f8167a97e3c6535cf2ec27f3765a43cc78c33e19b2d339a4f66bc844aa3b45b5768aa4f3f7599933c8fa56f687d7aa3a67aa24f7d9f849a75a448f256959d36ca8195d46b28e97d338ba0617eb5855a90ab774963b85f52777faf5263b369748f4591c59454719f714bbf82cb81987e346ba2cf637ebb7231d38d47e1965f52aa7f4e83c1835a8bbc726c938c7e8378709160855b6e93996890622b5b8b9c7aaa67d1653e6ab26f1eac8235c97f407c8f5c2bc19949598c893e5f877c7b7a8e72aa8a65a9619457385f7088bd8e40803b6c5559b96bc07015a9829ac1723de57d42abaa7b416ec4583161ae4c4369a4a75394b17b7b98757eb67e656c65c18db773d16c3e7d48ea487db5afc26b60de743bdf9c6571d28451b7c78a5e76c77973817d8f7b647e8a9b7875b97d9d7aa861876f71a26cca69ca9e86b0596c4ce27630d49759ef9a6b5cce9a6e7c699f6c636fb69967777b635f7856879d5696605ea76a974a92605a5f5ac276d79b61b2582fd29c55eb915a71b3866850d0804b7bc1706b82c34f919d5274a3675cbc6488af704cd839568c4a8962c05c7a9f6ed95d5ebb5cf08f5259b07c29e7bf5f6073a753547199967b7b79c1888ba4708f4f65776392c48a5c872f575341b842c66adfa96dc969615242b77a1ee6b74c634e9543324581772d49577f5b6b77a8c78891c79c3d7e96544cc7873f892e8b64456975d270eebf6adfb8841df1b94d4dc48f343edd72614dcdc65c869c3b809656608dbb783bc2964a7b938944c92e4f9242ca70e47f5ad07c15947a13"),
        PillowCase(20, 30, 15, 20, .bicubic, verticalFirst: false, hex: "4889607b82986257cf495d9d4e6ec68d3d72cc7cbf8486737a3a63517f7fa66b8ca04a804fb264b05a825571d75bc6d684e29cc1d55d8cb77636d887534cad9b33c291b24f6c6ab7cd7c7b67528c6e677b4bdb7ac963557221c17cc14ecd9a2fd86a62ce7c31d8ac465ab49e78299fb8a22b8246c695677b7d6889957aa346a1a06fab2dbb6c90bc5e14a940558d4adc936390dc7327b7ba6d663f8f68864f555cc890837e4272c1ab832f694dab46d18d579d3f7d1b586539bd61d5d69237f3b9657d43ba5b738bb4b3a484857d8e58955b6c7e5e7ab165ad4162686ed82def9f3535b03dc9af4176ad6a34cfb449904ea05b73288c72a45a8e7ba55d6e6fa258914a99acc7a95a9b666ba2785d4bc7824fec732673a0717bb0af62433fc069973f7cab5383b9707161b08186a59c9240974b26af28a5617882529dc6663fc18443d197672da5be7d5176be7e76858c698754838271976535558e92b88843bf4a6f8053d468385d2fa77d4fd17839829d9a22727b9c2f4951abac8b7899925a764f92ada8599f3288438fbdb6d378b1a67c3a715693ca6c4aec895d80d8a95f7b84c46e8566778a86827b76ae9d837b6f779792c07db4707e978bd360a2d56f4e672fe38b4cd3a07f6093a49c53537cc37b7b6f6249a1895eb0476d91756d508a70bf5daa95c0ba8f7c68993a828050c69a673bd3af5d546b9867827b8d5cc6999b5a707b849993535f47529592af7cbd7790a48d7cae5d65bb69906c26cdbb43744aa9535f2695825d53936f94aabb636c8d7a3b83746e84549b9b9c83c8735f915682767aab7ca3c152b481b33a50e7b0a17a797078a76a7b887ca7628bbd88954f676754aa8f725c58bc506ea9678374638a66986cb35a42d6b4b683b6a26f7a957b7e9a5f939b7b627dab5c5396a2366e6b788b4f7b835078a2ab9589676d7dac50bac4af7a997d9d646c5244698f8764b2708855745d827aaa9181a0656e7197aa68a06889995679858b5e34ad99808d6a94877d633f3c5c5ea37898767f407aae8c82a9515c657e82c86061c3697eb6697bb1885082c3ae625e67998685618c773e687f526082ac78517384578399918da95572a57ecf838a7a72953677896f8e438f4d3bb15a99637e6ba95260733248969255569aa53365ac653c5f736bc3795a9a758c6b7883d677678c8e718764ada598646aa4665d6c2d496c83a767786491369b7d5eb275c189737a49ad4f29a09d4f94c85f3b8eb65b737aa96368477e"),
        PillowCase(20, 30, 16, 21, .bicubic, verticalFirst: true, hex: "3f865a818384644edb5256a0465fbc77568fb149aecfa97752428a82654a4561a4d4836f72439869b851a85096517dd262bfe071e7acb5dd679cc37029ce8c4d94986f16dfc27d6448af8aaf6d98a1589a696d67606a7f60d869cc55636c19c866ca5bcaa839dc7c4ee27443c3a63c95c579474ad3c05c33a9a07d9143ac994f8f8d8c6d8977d139bb8b879a1fae66aabf711cb15233a03fc68e6592cb7122dbac555d63a8884e322789967962a07a63a430919cc15437476ab654d679788a3a93252f7a1fad61add58856fabd50a18ea93348c4a7af6eb1afaf84607aa786705147b77fb9993d8e31875799c717ef853d18ae439ab74cc2bb6e31c19c3fd68689453c589b9b5c3e53d08b7f537d808a37773faf52be78d98c69954e9b879b8c369f983df07f2257955780c1a9425e77b13b3b60abce5369845498a4909247ae8aae68d36358a960668343a23ca880318dd26374d0772fe99a674bab9d5f809dbf6167787a999655814c8cb889426488658cb769bf4346821bb34683bc523d7758ad741fbc82409787621fbda96b245d8f748a75954bcb8c9b582b698282b261435043b581c169e29c56ca5ea55866315fb4787ae2733bbeb8923e6dc19f2e2d909ebb647d945ea6ae9a69786bc69baf54af6bac746eb978c7ca5ccba645437a70db7230f1956972d098629d72a8848e6f8b6b72549266a2576faa947c4762609a83ca8f9a9c5bd88ea76f88b95d7f4b32e69558a3b0875971c7983c57a9a26887aa5d68a260749d8b52d0355b7e7d7367ae6fb97380aca1a7a18838906966a3588bab7e1bd09d6562417b6572486c72af8bc29c6e88535795bf687645424b729b96d393a6ad828f7f5f999063bf6e9c851ad8c85d4751d352583bbdb160586f4a859fbb8548ab677f6abc2b7269978a7cb2976172b147707f449b6f75b8808ac674995bcd4f53ddcbc8916a4d97998066bf8c7e618dc25aabb771695d737837896695515bae7074ac8a7b785f5e68aa4aba6452c6c3bd7fa497608398636e94996b99588c578359899e893864a4528c6970956573985d67b797927a867f6dbc61afd1b5758b6fa25c675e365786787290987a984c8b4f8469ad63c97e8298875d659bc6729c49a481667282895d36989b827b5f95918a5d5a415756965f8b8da2605a87778ac78b5887595d817a7ecf5372b25c97b16065b0874696c9b55f495f95908b6185734b697e414e79aa8a70756c3f6f988f80817b77c9708b9875dd8d8d457288439785668b42824738c063a162796aaa546180314a88794a81b4841e68c66643815a5c729151e264675f71899d6f8ad28454938a6e8373bdb38f5666ab6b62692b3d6d73ae66916a7b2c84964db27fa39a50b06fa85829ad6d339dac5391c9632784c1656e66ae686c3c80"),
    ]

    @Test(arguments: pillowCases)
    func passOrderMatchesPillow13(_ c: PillowCase) {
        let ours = Preprocess.resize(patternImage(width: c.width, height: c.height), width: c.outWidth, height: c.outHeight, c.filter)
        let pillow = RGBImage(width: c.outWidth, height: c.outHeight, pixels: bytes(fromHex: c.hex))
        #expect(ByteDifference(ours, pillow).max == 0, "\(c): \(ByteDifference(ours, pillow))")
    }

    @Test func unchangedSizeIsIdentityAndOneAxisOnly() {
        let image = patternImage(width: 17, height: 9)
        #expect(Preprocess.resize(image, width: 17, height: 9, .bicubic) == image)
        // Only the changed axis is filtered: each row of a width-only resize depends on that row alone.
        let wide = Preprocess.resize(image, width: 30, height: 9, .bicubic)
        let row3 = Preprocess.resize(Preprocess.crop(image, top: 3, left: 0, height: 1, width: 17), width: 30, height: 1, .bicubic)
        #expect(Preprocess.crop(wide, top: 3, left: 0, height: 1, width: 30) == row3)
    }

    /// The common CLIP case, 500×375 → 298×224 bicubic, has the expected output size. (Its speed,
    /// about 0.9 ms in release, is a benchmark figure, not something a test asserts.)
    @Test func resizeOfAPhotoSizedImage() {
        let image = patternImage(width: 500, height: 375)
        let result = Preprocess.resizeShorterSide(image, to: 224, .bicubic)
        #expect(result.width == 298 && result.height == 224)
    }
}
