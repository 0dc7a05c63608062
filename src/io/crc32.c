/* crc32.c -- CRC-32 for the model file, half a byte at a time.
 * A 16-entry table keeps the code short and read-only (thread-safe, no
 * lazy initialisation); model files are at most a few MB, so the speed
 * (about 0.5 GB/s) is ample. */
#include "crc32.h"

/* table[i] = CRC register after shifting the nibble i through the
 * reflected polynomial 0xEDB88320 four times. */
static const uint32_t nm_crc32_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu,
    0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t nm_crc32(uint32_t crc, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ nm_crc32_nibble[crc & 15u];
        crc = (crc >> 4) ^ nm_crc32_nibble[crc & 15u];
    }
    return ~crc;
}
