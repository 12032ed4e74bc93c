/*
 * bcryptprimitives.dll for the Windows lab: wine 8 lacks ProcessPrng, which
 * the Go runtime loads at start-up, so this supplies it on top of
 * RtlGenRandom (SystemFunction036 in advapi32).
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE buf, SIZE_T n)
{
	while (n > 0) {
		ULONG chunk = n > 0x10000000 ? 0x10000000 : (ULONG)n;
		if (!SystemFunction036(buf, chunk))
			return FALSE;
		buf += chunk;
		n -= chunk;
	}
	return TRUE;
}
