// zlib for ConvKit's gzip reader and writer (Sources/ConvKit/Data/Gzip.swift).
#include <zlib.h>
