import ClipoodCommands
import ClipoodExperiment
import ClipoodImage
import ClipoodIO
import Foundation

// show errors: a montage of misclassified images. clipood composes the images into one RGB
// raster (so that they keep their pixels), and gnuplot draws it 1:1 on a PNG of the same
// size and writes the labels over it, in a real font and with any class name gnuplotQuote'd.

/// Where the tiles of a montage go, in pixels from the top left: a header of two text lines,
/// then a grid of cells, each a square image area of `tile` pixels (centred in a cell at least
/// `minimumCellWidth` wide, so that three lines of label fit under a small tile) above its label.
public struct MontageLayout: Equatable, Sendable {
    public static let padding = 8
    public static let minimumCellWidth = 96

    public let tiles: Int, tile: Int
    public let columns: Int, rows: Int
    /// Font size of the labels, in points (a point is a pixel on the PNG terminal).
    public let fontSize: Int

    /// `tiles` images, as square a grid as they make (columns = ⌈√tiles⌉).
    public init(tiles: Int, tile: Int) {
        precondition(tiles > 0 && tile > 0, "MontageLayout: \(tiles) tiles of \(tile) px")
        self.tiles = tiles
        self.tile = tile
        columns = Int(Double(tiles).squareRoot().rounded(.up))
        rows = (tiles + columns - 1) / columns
        fontSize = min(11, max(8, tile / 14))
    }

    public var lineHeight: Int { (fontSize * 3 + 1) / 2 }
    public var cellWidth: Int { max(tile, MontageLayout.minimumCellWidth) }
    /// The image area and three label lines under it.
    public var cellHeight: Int { tile + 3 * lineHeight + MontageLayout.padding / 2 }
    public var headerHeight: Int { 2 * lineHeight + MontageLayout.padding }
    public var width: Int { MontageLayout.padding + columns * (cellWidth + MontageLayout.padding) }
    public var height: Int { headerHeight + rows * (cellHeight + MontageLayout.padding) }

    /// The top left corner of cell `i` (row by row).
    public func cell(_ i: Int) -> (x: Int, y: Int) {
        (MontageLayout.padding + (i % columns) * (cellWidth + MontageLayout.padding), headerHeight + (i / columns) * (cellHeight + MontageLayout.padding))
    }

    /// How many characters of label text fit a cell's width (DejaVu Sans averages about 0.6 em).
    public var labelCharacters: Int { max(4, Int(Double(cellWidth - 4) / (0.62 * Double(fontSize)))) }
}

extension Workspace {
    static let showErrorsCommand = CommandSpec<Workspace>(
        "errors", summary: "a montage (PNG) of misclassified images of a split part, each with its true and predicted class and the logit gap",
        discussion: """
        The n images that the weights get wrong with the largest logit gap — the predicted class's
        logit minus the true class's, s·(cos_pred − cos_true), the same logits eval scores — in a
        grid of ⌈√n⌉ columns: each image scaled to fit a tile of tile×tile pixels, with 'true:',
        'pred:' and 'Δlogit' under it. Without any run, the active model's zero-shot predictions.
        The montage needs gnuplot (apt-get install gnuplot-nox), which draws the labels.
        """,
        arguments: [Shared.run.spec, Shared.weights.spec, Shared.part.spec, AnalysisArguments.count.spec, AnalysisArguments.tile.spec,
                    AnalysisArguments.output.spec],
        examples: ["show errors", "show errors mms model=bma:0.5 on val n=25 to plots/errors.png", "show errors n=4 tile=224"],
        run: { ws, args in try ws.showErrors(args) })

    func showErrors(_ args: Arguments) throws {
        let s = try analysisSubject(args)
        let shown = args[AnalysisArguments.output] ?? settings.plots + "/errors_" + s.fileStem + ".png"
        if args.has(AnalysisArguments.output) {
            guard (shown as NSString).pathExtension.lowercased() == "png" else { throw args.error(AnalysisArguments.output, "'to' expects a .png file, got '\(shown)'") }
            guard gnuplotSanitize(shown) == shown else { throw args.error(AnalysisArguments.output, "the file name contains control characters") }
        }
        let p = try predictions(s, args: args)
        let wrong = p.errors()
        guard !wrong.isEmpty else {
            throw args.error("\(s.label) classifies all \(p.count) \(s.part) images correctly: there are no misclassified images to show")
        }
        let picked = Array(wrong.prefix(args[AnalysisArguments.count]))
        let layout = MontageLayout(tiles: picked.count, tile: args[AnalysisArguments.tile])
        let names = classNames(p, s.data)

        var montage = RGBImage(width: layout.width, height: layout.height, fill: 255)
        for (i, n) in picked.enumerated() {
            let path = s.data.dataset.samples[p.indices[n]].path
            let image: RGBImage
            do { image = try ImageDecoder.decode(path: path) } catch { throw args.error(String(describing: error)) }
            let c = layout.cell(i)
            montage.place(image, fittingSquare: layout.tile, x: c.x + (layout.cellWidth - layout.tile) / 2, y: c.y)
        }
        let scratch: String
        do { scratch = try Gnuplot.scratchFolder() } catch { throw args.error(String(describing: error)) }
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let raster = scratch + "/montage.rgb"
        do { if writesFiles { try AtomicWrite.write(Data(montage.pixels), to: raster, durable: false) } } catch { throw args.error(String(describing: error)) }

        var g = GnuplotScript()
        let (W, H) = (layout.width, layout.height)
        g.add("set lmargin at screen 0", "set rmargin at screen 1", "set tmargin at screen 1", "set bmargin at screen 0",
              "unset border", "unset tics", "unset key",
              // Pixel centres at integers, y down: a label's position is its pixel.
              "set xrange [-0.5:\(W) - 0.5]", "set yrange [\(H) - 0.5:-0.5]")
        // Characters that fit the width: DejaVu Sans averages about 0.62 em, its bold about 0.7 em.
        let room = Double(W - 2 * MontageLayout.padding) / Double(layout.fontSize)
        let header = [
            montageCut("\(s.label) on \(s.part): \(picked.count) of \(wrong.count) errors (\(p.count) images)", Int(room / 0.7)),
            montageCut("largest Δlogit = s·(cos_pred − cos_true) first; s = \(String(format: "%.3g", p.scale))", Int(room / 0.62)),
        ]
        var label = 0
        func text(_ t: String, x: Int, y: Int, color: String, align: String, bold: Bool = false) {
            label += 1
            g.add("set label \(label) \(gnuplotQuote(t)) at \(x),\(y) \(align) font '\(bold ? "sans:Bold" : "sans"),\(layout.fontSize)' tc rgb '\(color)' noenhanced front")
        }
        for (i, line) in header.enumerated() {
            text(line, x: MontageLayout.padding, y: MontageLayout.padding / 2 + layout.lineHeight * i + layout.lineHeight / 2, color: "#222222", align: "left", bold: i == 0)
        }
        for (i, n) in picked.enumerated() {
            let c = layout.cell(i), x = c.x + layout.cellWidth / 2, top = c.y + layout.tile + MontageLayout.padding / 2
            text(montageCut("true: " + names[p.labels[n]], layout.labelCharacters), x: x, y: top + layout.lineHeight / 2, color: "#1B7837", align: "center")
            text(montageCut("pred: " + names[p.predicted[n]], layout.labelCharacters), x: x, y: top + layout.lineHeight * 3 / 2, color: "#B2182B", align: "center")
            text(String(format: "Δlogit %.2f", p.margin(n)), x: x, y: top + layout.lineHeight * 5 / 2, color: "#555555", align: "center")
        }
        g.add("plot \(gnuplotQuote(raster)) binary array=(\(W),\(H)) format='%uchar%uchar%uchar' with rgbimage notitle")
        let target = PlotTarget(terminal: .png(width: W, height: H), path: expandPath(shown), shown: shown, scale: 1)
        try drawPlot(g, target, args, what: "a \(layout.columns)×\(layout.rows) montage of \(picked.count) of \(wrong.count) misclassified \(s.part) images of \(s.label)")
    }
}

/// `s` cut to `n` characters, the last one an ellipsis when it was longer.
func montageCut(_ s: String, _ n: Int) -> String {
    s.count <= n ? s : String(s.prefix(max(0, n - 1))) + "…"
}

extension RGBImage {
    /// Draws `image` scaled (bicubic, aspect kept) to fit a `side`×`side` square whose top left
    /// corner is (x, y), centred in it on a light grey ground.
    mutating func place(_ image: RGBImage, fittingSquare side: Int, x: Int, y: Int) {
        for row in 0 ..< side { for col in 0 ..< side { setPixel(x + col, y + row, (236, 236, 236)) } }
        let scale = Double(side) / Double(max(image.width, image.height))
        let w = max(1, min(side, Int((Double(image.width) * scale).rounded()))), h = max(1, min(side, Int((Double(image.height) * scale).rounded())))
        let scaled = image.width == w && image.height == h ? image : Preprocess.resize(image, width: w, height: h, .bicubic)
        let ox = x + (side - w) / 2, oy = y + (side - h) / 2
        for row in 0 ..< h { for col in 0 ..< w { setPixel(ox + col, oy + row, scaled[col, row]) } }
    }

    /// Sets one pixel; outside the image nothing happens.
    mutating func setPixel(_ x: Int, _ y: Int, _ c: (r: UInt8, g: UInt8, b: UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        pixels[i] = c.r
        pixels[i + 1] = c.g
        pixels[i + 2] = c.b
    }
}
