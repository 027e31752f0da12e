import ClipoodData
import ClipoodIO
import Foundation
import TestSupport
import Testing

/// Split files are read as hostile: each inconsistency is one error naming the file and field.
@Suite("reading split files")
struct SplitFileTests {
    let fx = Fixture(perClass: 5)   // 3 domains × 4 classes × 5 = 60 images
    var ds: Dataset { fx.dataset }

    /// The JSON object of a real split, to be damaged one field at a time.
    func json() throws -> [String: Any] {
        let s = try Split.make(dataset: ds, spec: SplitSpec(targets: ["photo"], openRatio: 0.5, seed: 2))
        let encoder = JSONEncoder()
        return try JSONSerialization.jsonObject(with: encoder.encode(s)) as! [String: Any]
    }

    func parse(_ object: [String: Any], file: String = "runs/x/split.json") throws -> Split {
        try Split.parse(data: JSONSerialization.data(withJSONObject: object), file: file)
    }

    /// The error of parsing `object`, which must be `.invalid` on `field`; returns the reason.
    func invalid(_ object: [String: Any], field: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        let error = #expect(throws: SplitError.self, sourceLocation: sourceLocation) { try parse(object) }
        guard case .invalid("runs/x/split.json", let f, let reason)? = error else {
            Issue.record("expected an invalid-split error on \(field), got \(String(describing: error))", sourceLocation: sourceLocation)
            return nil
        }
        #expect(f == field, "\(error!)", sourceLocation: sourceLocation)
        #expect(error!.description.hasPrefix("'runs/x/split.json': split field '\(field)': "), sourceLocation: sourceLocation)
        return reason
    }

    @Test func goodSplitParsesAndValidates() throws {
        let s = try parse(try json())
        try s.validate(against: ds)
        #expect(s == (try Split.make(dataset: ds, spec: SplitSpec(targets: ["photo"], openRatio: 0.5, seed: 2))))
    }

    @Test func outOfRangeAndUnsortedIndices() throws {
        var j = try json()
        var train = j["train"] as! [Int]
        j["train"] = train + [60]
        #expect(invalid(j, field: "train[\(train.count)]")?.contains("image index 60 is outside 0..<60") == true)
        j["train"] = [-1] + train
        #expect(invalid(j, field: "train[0]")?.contains("-1") == true)
        train.swapAt(0, 1)
        j["train"] = train
        #expect(invalid(j, field: "train[1]")?.contains("sorted") == true)
        j = try json()
        j["open"] = (j["open"] as! [Int]) + [1 << 40]
        #expect(invalid(j, field: "open[\((j["open"] as! [Int]).count - 1)]") != nil)
    }

    @Test func unknownDomainAndClassIds() throws {
        var j = try json()
        var spec = j["spec"] as! [String: Any]
        spec["targets"] = ["photograph"]
        j["spec"] = spec
        #expect(invalid(j, field: "spec.targets[0]")?.contains("unknown domain 'photograph'") == true)
        j = try json()
        j["targetDomains"] = [7]
        #expect(invalid(j, field: "targetDomains[0]")?.contains("domain id 7 is outside 0..<3") == true)
        j = try json()
        j["baseClasses"] = [0, 1, 4]
        #expect(invalid(j, field: "baseClasses[2]")?.contains("class id 4 is outside 0..<4") == true)
        j = try json()
        j["domains"] = ["art_painting", "photo", "photo"]
        #expect(invalid(j, field: "domains[2]")?.contains("twice") == true)
    }

    @Test func countsMustAgreeWithTheLists() throws {
        var j = try json()
        var counts = j["partCounts"] as! [String: [Int]]
        counts["val"] = [1, 2]
        j["partCounts"] = counts
        #expect(invalid(j, field: "partCounts.val")?.contains("2 counts for 3 domains") == true)
        counts["val"] = [1000, 0, 0]
        j["partCounts"] = counts
        #expect(invalid(j, field: "partCounts.val")?.contains("add up to 1000") == true)
        counts["val"] = [Int.max, Int.max, 0]
        j["partCounts"] = counts
        #expect(invalid(j, field: "partCounts.val")?.contains("more than an Int holds") == true)
        j = try json()
        j["imageCount"] = -5
        #expect(invalid(j, field: "imageCount") != nil)
    }

    @Test func specNumbersAreRangeChecked() throws {
        var j = try json()
        var spec = j["spec"] as! [String: Any]
        spec["holdout"] = 1.5
        j["spec"] = spec
        #expect(invalid(j, field: "spec.holdout")?.contains("1.5") == true)
        spec["holdout"] = 0.2
        spec["shots"] = 0
        j["spec"] = spec
        #expect(invalid(j, field: "spec.shots") != nil)
    }

    @Test func malformedJSONNamesTheField() throws {
        var j = try json()
        j["train"] = "all of them"
        #expect(invalid(j, field: "train")?.contains("expected a list") == true)
        j = try json()
        j.removeValue(forKey: "fingerprint")
        #expect(invalid(j, field: "fingerprint") == "missing")
        j = try json()
        j["val"] = [1, "two"] as [Any]
        #expect(invalid(j, field: "val[1]") == "expected an integer")
        j["val"] = [1, 2.5]
        #expect(throws: SplitError.self) { try parse(j) }   // this decoder reports a fraction as invalid JSON
        let error = #expect(throws: SplitError.self) { try Split.parse(data: Data("{\"train\": [1,".utf8), file: "cut.json") }
        #expect(error?.description.contains("'cut.json'") == true)
    }

    /// The JSON decoder used by other readers (no file name): the same checks, without a file.
    @Test func plainDecoderChecksToo() throws {
        var j = try json()
        j["test"] = [99]
        let error = #expect(throws: SplitError.self) { try JSONDecoder().decode(Split.self, from: JSONSerialization.data(withJSONObject: j)) }
        #expect(error == .invalid(file: "", field: "test[0]", reason: "image index 99 is outside 0..<60"))
        #expect(error?.description == "split field 'test[0]': image index 99 is outside 0..<60")
    }

    /// A split file that is a FIFO is refused at once, not waited on.
    @Test func loadRefusesAFifo() throws {
        let path = fx.tree.root + "/split.json"
        #expect(mkfifo(path, 0o644) == 0)
        let error = #expect(throws: IOFailure.self) { try Split.load(from: path) }
        #expect(error?.description == "cannot read '\(path)': it is not a regular file")
    }
}
