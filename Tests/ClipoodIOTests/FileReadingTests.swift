import ClipoodIO
import Foundation
import TestSupport
import Testing

@Suite("reading hostile files")
struct FileReadingTests {
    let dir = makeTemporaryDirectory("clipood-io-read")

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    @Test func readsRegularFileWithinLimit() throws {
        try Data("hello".utf8).write(to: URL(fileURLWithPath: path("a.txt")))
        #expect(try FileReading.text(path("a.txt"), limit: 5) == "hello")
        #expect(throws: IOFailure.self) { try FileReading.read(path("a.txt"), limit: 4) }
    }

    @Test func refusesFifoWithoutHanging() throws {
        #expect(mkfifo(path("fifo"), 0o644) == 0)
        #expect(FileReading.kind(of: path("fifo")) == .fifo)
        let error = #expect(throws: IOFailure.self) { try FileReading.read(path("fifo"), limit: 100) }
        #expect(error?.description.contains("not a regular file") == true)
        #expect(error?.description.contains(path("fifo")) == true)
    }

    @Test func refusesDeviceAndFolder() {
        #expect(throws: IOFailure.self) { try FileReading.read("/dev/zero", limit: 1 << 20) }
        #expect(throws: IOFailure.self) { try FileReading.read(dir.path, limit: 1 << 20) }
        let missing = #expect(throws: IOFailure.self) { try FileReading.read(path("nope"), limit: 10) }
        #expect(missing?.description == "cannot read '\(path("nope"))': no such file or directory")
    }

    @Test func checkedProductsNeverWrap() {
        #expect(Checked.product([2, 3, 4]) == 24)
        #expect(Checked.product([Int]()) == 1)
        #expect(Checked.product([1 << 40, 1 << 30]) == nil)
        #expect(Checked.product([4, -1]) == nil)
        #expect(Checked.add(Int.max, 1) == nil)
        #expect(Checked.multiply(3, 5) == 15)
    }
}
