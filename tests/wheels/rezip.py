#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""rezip - rewrite a wheel with every file entry compressed by zstd (zip
method 93), keeping names, order, modes and content. Python 3.11's zipfile
cannot write zstd, so the archive is written here with struct, and each
entry is compressed by the zstd command-line tool.

  rezip.py IN.whl OUT.whl
"""
import struct
import subprocess
import sys
import zipfile
import zlib


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=data,
                          stdout=subprocess.PIPE, check=True).stdout


def main():
    src, dst = sys.argv[1], sys.argv[2]
    central = []
    with zipfile.ZipFile(src) as zin, open(dst, "wb") as out:
        for info in zin.infolist():
            data = zin.read(info)
            name = info.filename.encode()
            crc = zlib.crc32(data) & 0xFFFFFFFF
            if info.is_dir():
                method, comp = 0, b""
            else:
                method, comp = 93, zstd(data)
            dtime = (info.date_time[3] << 11) | (info.date_time[4] << 5) | (info.date_time[5] // 2)
            ddate = ((info.date_time[0] - 1980) << 9) | (info.date_time[1] << 5) | info.date_time[2]
            offset = out.tell()
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 63, 0, method, dtime,
                                  ddate, crc, len(comp), len(data), len(name), 0))
            out.write(name)
            out.write(comp)
            attr = info.external_attr or (0o100644 << 16)
            central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 63, 63,
                                       0, method, dtime, ddate, crc, len(comp), len(data),
                                       len(name), 0, 0, 0, 0, attr, offset) + name)
        cd_start = out.tell()
        for c in central:
            out.write(c)
        cd_size = out.tell() - cd_start
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                              cd_size, cd_start, 0))


if __name__ == "__main__":
    main()
