import ClipoodCommands
import Testing

@Suite("did you mean")
struct SuggestionsTests {
    let commands = ["load", "train", "compare", "zeroshot", "margins", "split", "plot", "save", "set", "show"]

    @Test func nearMatchesAreOffered() {
        #expect(Suggestions.closest(to: "trian", in: commands) == ["train"])
        #expect(Suggestions.closest(to: "comapre", in: commands) == ["compare"])
        #expect(Suggestions.closest(to: "zershot", in: commands) == ["zeroshot"])
        #expect(Suggestions.closest(to: "sav", in: commands).contains("save"))
        #expect(Suggestions.closest(to: "marg", in: commands) == ["margins"])   // a typed prefix
        #expect(Suggestions.closest(to: "shwo", in: commands) == ["show"])      // a swap is one edit
        #expect(Suggestions.editDistance("shwo", "show") == 1)
        #expect(Suggestions.closest(to: "tyni", in: ["tiny", "demo"]) == ["tiny"])
    }

    @Test func farWordsGetNothing() {
        #expect(Suggestions.closest(to: "xyz", in: commands).isEmpty)
        #expect(Suggestions.closest(to: "frobnicate", in: commands).isEmpty)
        #expect(Suggestions.closest(to: "qq", in: commands).isEmpty)
        #expect(Suggestions.closest(to: "", in: commands).isEmpty)
        #expect(Suggestions.closest(to: "s", in: commands).isEmpty)
        #expect(Suggestions.didYouMean("banana", in: ["apple", "cherry"]) == "")
    }
}
