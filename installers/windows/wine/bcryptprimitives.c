/* Test support for running the Windows binaries under Wine 8 (Debian 12), never shipped.
 *
 * Rust's std (>= 1.78) draws randomness with ProcessPrng from bcryptprimitives.dll, which
 * Wine 8 does not have, so a Rust .exe fails to load there. Placed beside the .exe, this DLL
 * provides ProcessPrng over RtlGenRandom (advapi32's SystemFunction036), which Wine has.
 * Windows itself has the real DLL. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
