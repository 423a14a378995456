#!/usr/bin/env python3
"""Where the host time of one small GPU op goes, on the machine it runs on.

Times, through ctypes on the CUDA driver (the calls ConvKit makes per op), the median cost of:
reading the clock, cuCtxSetCurrent, cuCtxGetCurrent, cuEventRecord, and cuLaunchKernel of an
empty kernel (with and without a synchronisation per launch, the second being the whole
launch-to-completion floor). The ctypes call itself costs something too; the clock and
cuCtxGetCurrent rows bound it. Prints one line per call, in microseconds.

    python3 scripts/host_floor_probe.py
"""
import ctypes
import statistics
import time

PTX = b"""
.version 8.0
.target sm_90
.address_size 64
.visible .entry ck_empty() { ret; }
"""


def main():
    cuda = ctypes.CDLL("libcuda.so.1")

    def check(status, what):
        if status != 0:
            raise SystemExit(f"{what} failed: CUresult {status}")

    check(cuda.cuInit(0), "cuInit")
    device = ctypes.c_int()
    check(cuda.cuDeviceGet(ctypes.byref(device), 0), "cuDeviceGet")
    context = ctypes.c_void_p()
    check(cuda.cuDevicePrimaryCtxRetain(ctypes.byref(context), device), "cuDevicePrimaryCtxRetain")
    check(cuda.cuCtxSetCurrent(context), "cuCtxSetCurrent")
    stream = ctypes.c_void_p()
    check(cuda.cuStreamCreate(ctypes.byref(stream), 1), "cuStreamCreate")
    module, function = ctypes.c_void_p(), ctypes.c_void_p()
    check(cuda.cuModuleLoadData(ctypes.byref(module), ctypes.c_char_p(PTX)), "cuModuleLoadData")
    check(cuda.cuModuleGetFunction(ctypes.byref(function), module, b"ck_empty"), "cuModuleGetFunction")
    event = ctypes.c_void_p()
    check(cuda.cuEventCreate(ctypes.byref(event), 2), "cuEventCreate")  # CU_EVENT_DISABLE_TIMING
    current = ctypes.c_void_p()

    def launch():
        return cuda.cuLaunchKernel(function, 1, 1, 1, 1, 1, 1, 0, stream, None, None)

    def launch_and_wait():
        launch()
        return cuda.cuStreamSynchronize(stream)

    calls = [
        ("time.perf_counter_ns (clock read)", time.perf_counter_ns),
        ("cuCtxGetCurrent (ctypes floor)", lambda: cuda.cuCtxGetCurrent(ctypes.byref(current))),
        ("cuCtxSetCurrent", lambda: cuda.cuCtxSetCurrent(context)),
        ("cuEventRecord", lambda: cuda.cuEventRecord(event, stream)),
        ("cuLaunchKernel (empty kernel, queued)", launch),
        ("cuLaunchKernel + cuStreamSynchronize", launch_and_wait),
    ]
    for name, call in calls:
        samples = []
        for _ in range(20):
            start = time.perf_counter_ns()
            for _ in range(500):
                call()
            samples.append((time.perf_counter_ns() - start) / 500 / 1000)
            cuda.cuStreamSynchronize(stream)
        print(f"{name:45s} {statistics.median(samples):8.3f} us")


if __name__ == "__main__":
    main()
