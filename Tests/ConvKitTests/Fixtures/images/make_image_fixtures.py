#!/usr/bin/env python3
"""Makes the small PNG/PGM files that ImageIOTests decodes, and expected.json.gz with their pixels.

Most PNGs come from the independent encoder below (Python's zlib, every colour type and bit
depth, scanline filters cycling through all five types, Adam7 interlacing, tRNS, split IDAT
chunks, ancillary chunks); each is checked by decoding it with Pillow where Pillow can represent
it. A few are written by Pillow itself. expected.json.gz (JSON) maps each file name to its width, height
and non-premultiplied RGBA (PGM: grey) in [0, 1] (sample / (2^depth - 1)) times 65535, four
values per pixel, row by row.

Run from this directory: python3 make_image_fixtures.py   (needs Pillow: pip install pillow)
"""
import gzip
import json
import struct
import zlib

from PIL import Image

W, H = 13, 7  # odd sizes: partial bytes for packed depths and uneven Adam7 passes
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
expected = {}


def chunk(kind, data):
    body = kind.encode() + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(kind, row, prev, bpp):
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i] if prev is not None else 0
        c = prev[i - bpp] if prev is not None and i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
        out.append((x - pred) & 0xFF)
    return bytes(out)


def pack_row(samples, depth):
    """samples: flat list of channel samples for one row."""
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    out, acc, bits = bytearray(), 0, 0
    for s in samples:
        acc = (acc << depth) | s
        bits += depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


def encode(pixels, w, h, color_type, depth, interlace=False, palette=None, trns=None,
           idat_split=None, extra_chunks=(), filter_start=0):
    """pixels[y][x] = tuple of channel samples (palette: (index,))."""
    ch = CHANNELS[color_type]
    bpp = max(1, ch * depth // 8)
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    raw = bytearray()
    row_counter = filter_start
    for x0, y0, dx, dy in passes:
        xs = list(range(x0, w, dx))
        ys = list(range(y0, h, dy))
        if not xs or not ys:
            continue
        prev = None
        for y in ys:
            row = pack_row([s for x in xs for s in pixels[y][x]], depth)
            kind = row_counter % 5
            row_counter += 1
            raw.append(kind)
            raw += filter_row(kind, row, prev, bpp)
            prev = row
    data = zlib.compress(bytes(raw), 9)
    out = b"\x89PNG\r\n\x1a\n" + chunk("IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    for kind, body in extra_chunks:
        out += chunk(kind, body)
    if palette is not None:
        out += chunk("PLTE", b"".join(bytes(c) for c in palette))
    if trns is not None:
        out += chunk("tRNS", trns)
    if idat_split:
        for i in range(0, len(data), idat_split):
            out += chunk("IDAT", data[i:i + idat_split])
    else:
        out += chunk("IDAT", data)
    out += chunk("IEND", b"")
    return out


def pattern(w, h, color_type, depth, seed):
    maxv = (1 << depth) - 1
    ch = CHANNELS[color_type]
    state = seed * 2654435761 % 4294967296 or 1

    def rnd():
        nonlocal state
        state = (state * 1103515245 + 12345) % 2147483648
        return state

    pixels = []
    for y in range(h):
        row = []
        for x in range(w):
            # mostly smooth gradients (so filters matter) plus some noise, extremes included
            px = []
            for c in range(ch):
                if (x + y) % 6 == 0:
                    v = maxv if (x + c) % 2 else 0
                else:
                    v = ((x * 37 + y * 91 + c * 53) * maxv // 300 + rnd() % (maxv // 8 + 1)) % (maxv + 1)
                px.append(v)
            row.append(tuple(px))
        pixels.append(row)
    return pixels


def rgba_of(pixels, color_type, depth, palette=None, palette_alpha=None, key=None):
    maxv = (1 << depth) - 1
    out = []
    for row in pixels:
        for p in row:
            if color_type == 0:
                g = p[0] / maxv
                a = 0.0 if key is not None and p[0] == key[0] else 1.0
                out += [g, g, g, a]
            elif color_type == 2:
                a = 0.0 if key is not None and tuple(p) == tuple(key) else 1.0
                out += [p[0] / maxv, p[1] / maxv, p[2] / maxv, a]
            elif color_type == 3:
                r, g, b = palette[p[0]]
                a = palette_alpha[p[0]] / 255 if palette_alpha and p[0] < len(palette_alpha) else 1.0
                out += [r / 255, g / 255, b / 255, a]
            elif color_type == 4:
                out += [p[0] / maxv] * 3 + [p[1] / maxv]
            else:
                out += [p[0] / maxv, p[1] / maxv, p[2] / maxv, p[3] / maxv]
    return [round(v, 7) for v in out]


def check_with_pillow(name, rgba, w, h, color_type, depth):
    """Decodes the file with Pillow and compares, where Pillow keeps the precision."""
    im = Image.open(name)
    im.load()
    assert im.size == (w, h), name
    if depth == 16 and color_type != 0:
        return  # Pillow reduces 16-bit colour to 8 bits
    if color_type == 0 and depth == 16:
        got = [v / 65535 for v in im.get_flattened_data()]
        want = rgba[0::4]
    else:
        conv = im.convert("RGBA")
        got = [c / 255 for px in conv.get_flattened_data() for c in px]
        want = rgba
        if color_type in (0, 2) and "trns" in name:
            got = [v for i, v in enumerate(got) if i % 4 != 3]
            want = [v for i, v in enumerate(want) if i % 4 != 3]
    tol = 0.5 / 255 + 1e-6 if depth >= 8 else 1e-6
    if depth < 8 and color_type == 0:
        tol = 0.5 / 255 + 1e-6  # Pillow scales low depths to 8 bits
    bad = [i for i, (a, b) in enumerate(zip(got, want)) if abs(a - b) > tol]
    assert not bad and len(got) == len(want), (name, bad[:5])


def write_png(name, w, h, color_type, depth, pixels, **kw):
    palette = kw.get("palette")
    trns = kw.get("trns")
    palette_alpha = list(trns) if (color_type == 3 and trns) else None
    key = None
    if trns is not None and color_type in (0, 2):
        key = [int.from_bytes(trns[i:i + 2], "big") for i in range(0, len(trns), 2)]
    data = encode(pixels, w, h, color_type, depth, **kw)
    with open(name, "wb") as f:
        f.write(data)
    rgba = rgba_of(pixels, color_type, depth, palette, palette_alpha, key)
    expected[name] = {"width": w, "height": h, "rgba": rgba}
    check_with_pillow(name, rgba, w, h, color_type, depth)


seed = 1
for color_type, depths in [(0, [1, 2, 4, 8, 16]), (2, [8, 16]), (4, [8, 16]), (6, [8, 16])]:
    for depth in depths:
        write_png(f"ct{color_type}_d{depth}.png", W, H, color_type, depth, pattern(W, H, color_type, depth, seed))
        seed += 1

for depth in [1, 2, 4, 8]:
    n = min(1 << depth, 200)
    palette = [((i * 67) % 256, (i * 131 + 7) % 256, (255 - i * 29) % 256) for i in range(n)]
    pixels = [[((x * 3 + y * 5 + x * y) % n,) for x in range(W)] for y in range(H)]
    write_png(f"ct3_d{depth}.png", W, H, 3, depth, pixels, palette=palette)

# transparency through tRNS
palette = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
pixels = [[((x + y) % 4,) for x in range(W)] for y in range(H)]
write_png("ct3_d2_trns.png", W, H, 3, 2, pixels, palette=palette, trns=bytes([0, 128, 255]))
pixels = pattern(W, H, 0, 8, 40)
pixels[2][3] = (77,)
write_png("ct0_d8_trns.png", W, H, 0, 8, pixels, trns=struct.pack(">H", 77))
pixels = pattern(W, H, 2, 8, 41)
pixels[4][5] = (10, 20, 30)
write_png("ct2_d8_trns.png", W, H, 2, 8, pixels, trns=struct.pack(">HHH", 10, 20, 30))

# Adam7
write_png("interlaced_ct0_d8.png", W, H, 0, 8, pattern(W, H, 0, 8, 50), interlace=True)
write_png("interlaced_ct0_d1.png", W, H, 0, 1, pattern(W, H, 0, 1, 51), interlace=True)
write_png("interlaced_ct6_d16.png", W, H, 6, 16, pattern(W, H, 6, 16, 52), interlace=True)
write_png("interlaced_ct3_d4.png", W, H, 3, 4, [[((x * y + x) % 16,) for x in range(W)] for y in range(H)],
          palette=[(i * 16, 255 - i * 16, (i * 97) % 256) for i in range(16)], interlace=True)
write_png("interlaced_1x1.png", 1, 1, 2, 8, [[(10, 200, 30)]], interlace=True)
write_png("interlaced_3x2.png", 3, 2, 0, 8, [[(0,), (128,), (255,)], [(64,), (32,), (16,)]], interlace=True)

# split IDAT chunks and ancillary chunks to skip
write_png("split_idat_ancillary.png", W, H, 0, 8, pattern(W, H, 0, 8, 60), idat_split=7,
          extra_chunks=[("gAMA", struct.pack(">I", 45455)), ("tEXt", b"Comment\x00made by make_image_fixtures.py")])

# Pillow's own encoder
for mode, name in [("L", "pillow_L.png"), ("RGB", "pillow_RGB.png"), ("RGBA", "pillow_RGBA.png"),
                   ("P", "pillow_P.png"), ("1", "pillow_1.png")]:
    base = Image.new("RGBA", (W, H))
    base.putdata([((x * 19) % 256, (y * 37) % 256, ((x + y) * 23) % 256, 255 if (x + y) % 3 else 100)
                  for y in range(H) for x in range(W)])
    im = base.convert(mode) if mode != "P" else base.convert("RGB").quantize(colors=16)
    im.save(name)
    back = Image.open(name).convert("RGBA")
    expected[name] = {"width": W, "height": H, "rgba": [round(c / 255, 7) for px in back.get_flattened_data() for c in px]}

# PGM: binary 8-bit, binary 16-bit, plain with comments
gray8 = [[(x * 20 + y * 7) % 256 for x in range(W)] for y in range(H)]
with open("p5_8bit.pgm", "wb") as f:
    f.write(b"P5\n# an 8-bit greymap\n%d %d\n255\n" % (W, H) + bytes(v for row in gray8 for v in row))
expected["p5_8bit.pgm"] = {"width": W, "height": H, "gray": [round(v / 255, 7) for row in gray8 for v in row]}
gray16 = [[(x * 5000 + y * 300) % 1001 for x in range(W)] for y in range(H)]
with open("p5_16bit.pgm", "wb") as f:
    f.write(b"P5 %d %d 1000\n" % (W, H) + b"".join(struct.pack(">H", v) for row in gray16 for v in row))
expected["p5_16bit.pgm"] = {"width": W, "height": H, "gray": [round(v / 1000, 7) for row in gray16 for v in row]}
with open("p2_plain.pgm", "w") as f:
    f.write("P2\n# plain greymap\n# with two comments\n%d\t%d\n15\n" % (4, 3))
    f.write("0 1 2 3\n4 5 6 7 # a comment in the raster\n8 9 10\n15\n")
expected["p2_plain.pgm"] = {"width": 4, "height": 3, "gray": [round(v / 15, 7) for v in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15]]}
for name in ["p5_8bit.pgm", "p5_16bit.pgm", "p2_plain.pgm"]:
    im = Image.open(name)
    assert im.size == (expected[name]["width"], expected[name]["height"]), name

# Every 2^depth - 1 divides 65535, so value * 65535 is an exact integer; gzip keeps the file small.
scaled = {name: {key: ([round(v * 65535) for v in value] if isinstance(value, list) else value)
                 for key, value in entry.items()} for name, entry in expected.items()}
with open("expected.json.gz", "wb") as f:
    f.write(gzip.compress(json.dumps(scaled, separators=(",", ":"), sort_keys=True).encode(), 9, mtime=0))
print(len(expected), "files")
