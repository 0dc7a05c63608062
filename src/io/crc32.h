/* crc32.h -- CRC-32 (IEEE 802.3 / zlib / PNG: reflected polynomial 0xEDB88320,
 * initial value and final XOR 0xFFFFFFFF).  Private to libneuromap. */
#ifndef NM_CRC32_H
#define NM_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over n more bytes: start with crc = 0; the result of
 * nm_crc32(0, "123456789", 9) is 0xCBF43926 and equals Python's zlib.crc32. */
uint32_t nm_crc32(uint32_t crc, const void *buf, size_t n);

#endif
