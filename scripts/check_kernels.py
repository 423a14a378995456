#!/usr/bin/env python3
"""Compile ConvKit's CUDA kernel files with NVRTC (no GPU needed) and print ptxas's resource
report: registers, shared memory, stack and spills per kernel.

    python3 scripts/check_kernels.py                      # every .cu under Sources/ConvKit/CUDA/Kernels
    python3 scripts/check_kernels.py Pooling.cu NN.cu      # some of them

Needs libnvrtc (pip install nvidia-cuda-nvrtc==13.0.88, or a CUDA toolkit). Uses the same options
as the Swift backend (CUDAKernelCompiler.options) plus --ptxas-options=-v.
"""
import ctypes, glob, os, sys, site

KERNELS = os.path.join(os.path.dirname(__file__), "..", "Sources", "ConvKit", "CUDA", "Kernels")
OPTIONS = ["--std=c++17", "-default-device", "--extra-device-vectorization", "--gpu-architecture=sm_90",
           "--ptxas-options=-v"]


def load_nvrtc():
    folders = [os.path.join(p, "nvidia", "cu13", "lib") for p in site.getsitepackages() + [site.getusersitepackages()]]
    folders += ["/usr/local/cuda/lib64"]
    for folder in folders:
        path = os.path.join(folder, "libnvrtc.so.13")
        if os.path.exists(path):
            for builtins in glob.glob(os.path.join(folder, "libnvrtc-builtins.so.*")):
                if ".alt." not in builtins:
                    ctypes.CDLL(builtins, mode=ctypes.RTLD_GLOBAL)
            return ctypes.CDLL(path)
    return ctypes.CDLL("libnvrtc.so.13")


def compile_file(nvrtc, path, header):
    program = ctypes.c_void_p()
    source = open(path, "rb").read()
    names = (ctypes.c_char_p * 1)(b"Common.cuh")
    headers = (ctypes.c_char_p * 1)(header)
    status = nvrtc.nvrtcCreateProgram(ctypes.byref(program), source, os.path.basename(path).encode(), 1, headers, names)
    assert status == 0, f"nvrtcCreateProgram: {status}"
    options = (ctypes.c_char_p * len(OPTIONS))(*[o.encode() for o in OPTIONS])
    status = nvrtc.nvrtcCompileProgram(program, len(OPTIONS), options)
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(program, log)
    nvrtc.nvrtcDestroyProgram(ctypes.byref(program))
    return status, log.value.decode(errors="replace")


def main():
    nvrtc = load_nvrtc()
    nvrtc.nvrtcGetErrorString.restype = ctypes.c_char_p
    header = open(os.path.join(KERNELS, "Common.cuh"), "rb").read()
    files = sys.argv[1:] or sorted(os.path.basename(p) for p in glob.glob(os.path.join(KERNELS, "*.cu")))
    failed = 0
    for name in files:
        status, log = compile_file(nvrtc, os.path.join(KERNELS, name), header)
        print(f"== {name}: {'ok' if status == 0 else 'FAILED: ' + nvrtc.nvrtcGetErrorString(status).decode()}")
        for line in log.splitlines():
            if line.strip():
                print("   " + line)
        failed += status != 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
