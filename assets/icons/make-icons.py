#!/usr/bin/env python3
"""Draws Hypha's icons (a node with three branching hyphae) as PNGs, with no imaging library.

Run from the repository root: python3 assets/icons/make-icons.py
"""
import math
import struct
import zlib

OUT = "assets/icons/"


def png(path, size, pixels):
    raw = b"".join(b"\0" + bytes(pixels[y * size * 4:(y + 1) * size * 4]) for y in range(size))

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def seg_dist(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def draw(size, color, ring=None):
    """A filled rounded badge in `color` with a white mycelium glyph; `ring` marks state."""
    pix = [0] * (size * size * 4)
    s = size / 32.0
    c = 16 * s
    arms = [(-90, 11), (30, 11), (150, 11)]
    ends = [(c + math.cos(math.radians(a)) * r * s, c + math.sin(math.radians(a)) * r * s) for a, r in arms]
    for y in range(size):
        for x in range(size):
            acc = [0.0, 0.0, 0.0, 0.0]
            n = 4
            for sy in range(n):
                for sx in range(n):
                    px = x + (sx + 0.5) / n
                    py = y + (sy + 0.5) / n
                    d = math.hypot(px - c, py - c)
                    rgba = None
                    if d <= 15.5 * s:
                        rgba = color
                        glyph = d <= 4.2 * s
                        for ex, ey in ends:
                            if seg_dist(px, py, c, c, ex, ey) <= 1.6 * s or math.hypot(px - ex, py - ey) <= 2.8 * s:
                                glyph = True
                        if glyph:
                            rgba = (255, 255, 255, 255)
                        if ring and d >= 13.6 * s:
                            rgba = ring
                    if rgba:
                        for i in range(4):
                            acc[i] += rgba[i] * (rgba[3] / 255.0 if i < 3 else 1)
            a = acc[3] / (n * n)
            if a > 0:
                i = (y * size + x) * 4
                for k in range(3):
                    pix[i + k] = int(min(255, acc[k] / (n * n) * 255 / a))
                pix[i + 3] = int(a)
    return pix


GREEN = (46, 157, 91, 255)
GREY = (120, 128, 136, 255)
RED = (200, 60, 50, 255)
for name, col in [("online", GREEN), ("offline", GREY), ("down", RED)]:
    png(OUT + f"tray-{name}.png", 32, draw(32, col))
for size in (32, 128, 256):
    png(OUT + f"icon-{size}.png", size, draw(size, GREEN))

# Windows wants an .ico: one 256×256 PNG inside an ICO container (Vista and later read it).
with open(OUT + "icon-256.png", "rb") as f:
    data = f.read()
with open(OUT + "icon.ico", "wb") as f:
    f.write(struct.pack("<HHH", 0, 1, 1))
    f.write(struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(data), 6 + 16))
    f.write(data)
