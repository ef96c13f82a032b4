; Kernel entry from the UEFI loader: RDI = struct boot_info * (direct-map address),
; paging on with the loader's tables, interrupts off.
bits 64
section .text
extern kmain
global _start
_start:
	cli
	lea rsp, [rel boot_stack_top]
	xor ebp, ebp
	call kmain
.hang:
	hlt
	jmp .hang

section .bss
align 16
boot_stack:
	resb 64 * 1024
boot_stack_top:
