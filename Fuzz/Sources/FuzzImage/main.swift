// libFuzzer entry point of the 'image' target (see FuzzTarget.image in FuzzHarness.swift).
// Built with -sanitize=fuzzer,address -parse-as-library by scripts/fuzz.sh.
import CLibFuzzer
import FuzzHarness

/// Called by libFuzzer with each input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.image.fuzzOne(data, size)
}

/// The program's main (SwiftPM links main = FuzzImage_main): hands over to libFuzzer's driver.
@_cdecl("FuzzImage_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in FuzzTarget.image.fuzzOne(data, size) }
}
