#!/usr/bin/env python3
"""Draws the README's adaptive-limit chart from the simulation's CSV, with the standard library only (no matplotlib).

    AGENT_CONCURRENCY_SIMULATION_CSV=/tmp/sim.csv dotnet test tests/AgentConcurrency.Tests -c Release \
        --filter "FullyQualifiedName~The_limit_over_time_can_be_written"
    python3 docs/plot-adaptive-limit.py /tmp/sim.csv docs/adaptive-limit.png

One panel per algorithm: the limit after each run (blue), the host's capacity (grey), overloaded runs (red ticks).
"""
import csv
import struct
import sys
import zlib

WIDTH, PANEL_HEIGHT, MARGIN = 900, 220, 30
MAX_LIMIT = 13
WHITE, GREY, BLUE, RED, BLACK, LIGHT = (255, 255, 255), (150, 150, 150), (30, 90, 200), (210, 40, 40), (0, 0, 0), (225, 225, 225)

# 3x5 digits for the y-axis labels.
DIGITS = {
    "0": ["111", "101", "101", "101", "111"], "1": ["010", "110", "010", "010", "111"], "2": ["111", "001", "111", "100", "111"],
    "3": ["111", "001", "111", "001", "111"], "4": ["101", "101", "111", "001", "001"], "5": ["111", "100", "111", "001", "111"],
    "6": ["111", "100", "111", "101", "111"], "7": ["111", "001", "010", "010", "010"], "8": ["111", "101", "111", "101", "111"],
    "9": ["111", "101", "111", "001", "111"],
}


def main(csv_path, png_path):
    with open(csv_path, newline="") as source:
        rows = list(csv.DictReader(source))
    algorithms = list(dict.fromkeys(row["algorithm"] for row in rows))
    height = PANEL_HEIGHT * len(algorithms)
    pixels = [[WHITE] * WIDTH for _ in range(height)]

    def put(x, y, colour):
        if 0 <= x < WIDTH and 0 <= y < height:
            pixels[y][x] = colour

    for panel, algorithm in enumerate(algorithms):
        series = [row for row in rows if row["algorithm"] == algorithm]
        top, end = panel * PANEL_HEIGHT + 10, max(float(row["seconds"]) for row in series)
        plot_height = PANEL_HEIGHT - 20

        def x_of(seconds):
            return MARGIN + int((WIDTH - MARGIN - 10) * seconds / end)

        def y_of(limit):
            return top + plot_height - int(plot_height * limit / MAX_LIMIT)

        for limit in range(0, MAX_LIMIT + 1, 2):
            for x in range(MARGIN, WIDTH - 10):
                put(x, y_of(limit), LIGHT)
            for index, digit in enumerate(str(limit)):
                for dy, line in enumerate(DIGITS[digit]):
                    for dx, bit in enumerate(line):
                        if bit == "1":
                            put(4 + index * 4 + dx, y_of(limit) - 2 + dy, BLACK)
        for y in range(top, top + plot_height + 1):
            put(MARGIN, y, BLACK)
        previous = None
        for row in series:
            x = x_of(float(row["seconds"]))
            put(x, y_of(int(row["capacity"])), GREY)
            if row["overloaded"] == "1":
                for y in range(top + plot_height - 6, top + plot_height + 1):
                    put(x, y, RED)
            y = y_of(int(row["limit"]))
            if previous is not None:
                for step in range(min(previous[1], y), max(previous[1], y) + 1):
                    put(x, step, BLUE)
                for step in range(previous[0], x + 1):
                    put(step, previous[1], BLUE)
            previous = (x, y)

    raw = b"".join(b"\x00" + bytes(channel for pixel in line for channel in pixel) for line in pixels)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(png_path, "wb") as target:
        target.write(b"\x89PNG\r\n\x1a\n")
        target.write(chunk(b"IHDR", struct.pack(">IIBBBBB", WIDTH, height, 8, 2, 0, 0, 0)))
        target.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        target.write(chunk(b"IEND", b""))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
