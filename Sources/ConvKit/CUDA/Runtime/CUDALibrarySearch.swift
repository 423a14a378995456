import Foundation

/// Where the CUDA toolkit libraries (NVRTC, cuBLAS) are looked for, in order:
/// `$CUDA_HOME/lib64` (and `$CUDA_PATH/lib64`), `/usr/local/cuda/lib64`, the dynamic loader's own
/// path (a bare name), and the `nvidia/*/lib` folders that Python's CUDA wheels install
/// (`nvidia-cuda-nvrtc`, `nvidia-cublas`, PyTorch's dependencies) in the active virtual
/// environment, `PYTHONPATH`, and the usual site-packages folders.
enum CUDALibrarySearch {
    /// Candidate paths and names for a library whose file names are `names`
    /// (e.g. `["libnvrtc.so.13", "libnvrtc.so.12"]`), most preferred first, without duplicates.
    static func candidates(for names: [String]) -> [String] {
        var result: [String] = []
        func add(_ candidate: String) { if !result.contains(candidate) { result.append(candidate) } }
        for folder in toolkitFolders() {
            for name in names where FileManager.default.fileExists(atPath: folder + "/" + name) { add(folder + "/" + name) }
        }
        for name in names { add(name) }
        for folder in pythonWheelFolders() {
            for name in names where FileManager.default.fileExists(atPath: folder + "/" + name) { add(folder + "/" + name) }
        }
        return result
    }

    /// `$CUDA_HOME/lib64`, `$CUDA_PATH/lib64`, `/usr/local/cuda/lib64`.
    static func toolkitFolders() -> [String] {
        let environment = ProcessInfo.processInfo.environment
        var folders: [String] = []
        for variable in ["CUDA_HOME", "CUDA_PATH"] {
            if let root = environment[variable], !root.isEmpty { folders += [root + "/lib64", root + "/lib"] }
        }
        return folders + ["/usr/local/cuda/lib64"]
    }

    /// The `lib` folders of installed `nvidia-*` Python wheels.
    static func pythonWheelFolders() -> [String] {
        let environment = ProcessInfo.processInfo.environment
        var sitePackages: [String] = []
        if let venv = environment["VIRTUAL_ENV"], !venv.isEmpty {
            sitePackages += glob(venv + "/lib/python3*/site-packages")
        }
        if let pythonPath = environment["PYTHONPATH"] {
            sitePackages += pythonPath.split(separator: ":").map(String.init)
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        sitePackages += glob(home + "/.local/lib/python3*/site-packages")
        sitePackages += glob(home + "/.pyenv/versions/*/lib/python3*/site-packages")
        sitePackages += glob("/opt/*/.venv/lib/python3*/site-packages")
        sitePackages += glob("/usr/local/lib/python3*/dist-packages") + glob("/usr/local/lib/python3*/site-packages")
        sitePackages += glob("/usr/lib/python3*/dist-packages") + glob("/usr/lib/python3/dist-packages")
        var folders: [String] = []
        for root in sitePackages {
            // CUDA 13 wheels put every library in nvidia/cu13/lib; CUDA 12 wheels use nvidia/<name>/lib.
            for folder in glob(root + "/nvidia/*/lib") where !folders.contains(folder) { folders.append(folder) }
        }
        return folders
    }

    /// The paths matching a shell pattern, sorted (newest Python version last).
    static func glob(_ pattern: String) -> [String] {
        var matches = glob_t()
        defer { globfree(&matches) }
        guard Glibc.glob(pattern, 0, nil, &matches) == 0 else { return [] }
        return (0..<Int(matches.gl_pathc)).compactMap { matches.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }
}

extension NativeLibrary {
    /// The result of loading a library wrapper once (for a `static let`): the wrapper, or the
    /// `ConvKitError` that says why it is missing, kept so that every later use reports the same cause.
    static func loadOnce<T>(_ purpose: String, _ load: () throws -> T) -> Swift.Result<T, ConvKitError> {
        do { return .success(try load()) } catch let error as ConvKitError { return .failure(error) } catch {
            return .failure(.device(message: "\(purpose): \(error)"))
        }
    }
}
