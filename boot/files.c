/* Loader helpers: console/serial messages and reading whole files from the ESP. */
#include <efi.h>
#include <efilib.h>

#include "boot/loader.h"

/* com1_putc: write one byte to COM1 directly (errors must reach serial on every server). */
static void com1_putc(char c)
{
	for (int i = 0; i < 100000; i++) {
		unsigned char lsr;
		__asm__ volatile("inb %1, %0" : "=a"(lsr) : "Nd"((unsigned short)0x3fd));
		if (lsr & 0x20)
			break;
	}
	__asm__ volatile("outb %0, %1" : : "a"(c), "Nd"((unsigned short)0x3f8));
}

/* com1_puts16: write a UCS-2 string to COM1, one byte per character. */
static void com1_puts16(const CHAR16 *s)
{
	for (; *s; s++)
		com1_putc(*s < 0x80 ? (char)*s : '?');
}

/* loader_print: firmware console output. */
void loader_print(const CHAR16 *s)
{
	uefi_call_wrapper(ST->ConOut->OutputString, 2, ST->ConOut, (CHAR16 *)s);
}

/* loader_print_ascii: firmware console output of an ASCII string. */
void loader_print_ascii(const char *s)
{
	CHAR16 buf[2] = {0, 0};
	for (; *s; s++) {
		buf[0] = (unsigned char)*s;
		loader_print(buf);
	}
}

/* fail: print "tern loader error: WHAT (status)" on the console and on COM1. */
EFI_STATUS fail(const CHAR16 *what, EFI_STATUS st)
{
	Print(L"tern loader error: %s (%r)\r\n", what, st);
	com1_puts16(L"\r\ntern loader error: ");
	com1_puts16(what);
	com1_puts16(L"\r\n");
	return st;
}

/* ucs2_to_ascii: names on the ESP must be printable ASCII to become boot files. */
int ucs2_to_ascii(const CHAR16 *in, char *out, int cap)
{
	int i;
	for (i = 0; in[i]; i++) {
		if (i >= cap - 1 || in[i] < 0x21 || in[i] > 0x7e)
			return 0;
		out[i] = (char)in[i];
	}
	out[i] = 0;
	return i > 0;
}

/* read_file: open path, size it, read it into new pages; the pages stay for the kernel. */
EFI_STATUS read_file(EFI_FILE_HANDLE root, const CHAR16 *path, uint64_t *phys, uint64_t *size)
{
	EFI_FILE_HANDLE fh;
	EFI_STATUS st =
	    uefi_call_wrapper(root->Open, 5, root, &fh, (CHAR16 *)path, EFI_FILE_MODE_READ, 0);
	if (EFI_ERROR(st))
		return st;
	EFI_FILE_INFO *fi = LibFileInfo(fh);
	if (!fi) {
		uefi_call_wrapper(fh->Close, 1, fh);
		return EFI_DEVICE_ERROR;
	}
	uint64_t len = fi->FileSize;
	FreePool(fi);
	uint64_t pages = EFI_SIZE_TO_PAGES(len ? len : 1);
	st = alloc_zeroed(pages, 0, phys);
	if (!EFI_ERROR(st)) {
		uint64_t done = 0;
		while (done < len && !EFI_ERROR(st)) {
			UINTN chunk = len - done > (4u << 20) ? (4u << 20) : len - done;
			st = uefi_call_wrapper(fh->Read, 3, fh, &chunk, (char *)*phys + done);
			if (!EFI_ERROR(st) && chunk == 0)
				st = EFI_END_OF_FILE;
			done += chunk;
		}
		if (EFI_ERROR(st))
			uefi_call_wrapper(BS->FreePages, 2, *phys, pages);
	}
	uefi_call_wrapper(fh->Close, 1, fh);
	*size = len;
	return st;
}
