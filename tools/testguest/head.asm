; Tern test guest: bzImage setup header, entry points, interrupt stubs.
;
; File layout (see tguest.ld): 0x000-0x3ff the "real-mode" part (boot sector + one setup
; sector) holding the Linux setup header (Documentation/arch/x86/boot.rst); from 0x400 the
; protected-mode part that the loader copies to the load address: a 32-bit entry at +0 (not
; supported: it halts) and the 64-bit entry at +0x200, as in a Linux bzImage.
; All code is position independent (RIP-relative); tools/testguest/Makefile checks it by
; linking at two bases and comparing the bytes.

bits 64
default rel

extern tg_main, tg_trap
extern __bss_start, _end, __syssize, __init_size
global isr_stubs, stack_top, startup_64

; ---- setup header (file offsets 0x000-0x3ff) ------------------------------------------------
section .setup progbits alloc noexec nowrite align=1
setup_start:
	times 0x1f1 - ($ - setup_start) db 0
	db 1			; 0x1f1 setup_sects: one sector after the boot sector
	dw 0			; 0x1f2 root_flags
	dd __syssize		; 0x1f4 syssize: protected-mode part in 16-byte units
	dw 0			; 0x1f8 ram_size (obsolete)
	dw 0xffff		; 0x1fa vid_mode: normal
	dw 0			; 0x1fc root_dev
	dw 0xaa55		; 0x1fe boot_flag
	db 0xeb, hdr_end - setup_start - 0x202	; 0x200 jmp short: byte 0x201 gives the header end
	db "HdrS"		; 0x202 header magic
	dw 0x020c		; 0x206 boot protocol 2.12 (64-bit entry, xloadflags)
	dd 0			; 0x208 realmode_swtch
	dw 0			; 0x20c start_sys_seg
	dw version_str - setup_start - 0x200	; 0x20e kernel_version
	db 0			; 0x210 type_of_loader (the loader fills it in)
	db 0x01			; 0x211 loadflags: LOADED_HIGH
	dw 0			; 0x212 setup_move_size
	dd 0x100000		; 0x214 code32_start
	dd 0			; 0x218 ramdisk_image
	dd 0			; 0x21c ramdisk_size
	dd 0			; 0x220 bootsect_kludge
	dw 0			; 0x224 heap_end_ptr
	db 0			; 0x226 ext_loader_ver
	db 0			; 0x227 ext_loader_type
	dd 0			; 0x228 cmd_line_ptr
	dd 0x7fffffff		; 0x22c initrd_addr_max
	dd 0x200000		; 0x230 kernel_alignment: 2 MiB
	db 1			; 0x234 relocatable_kernel
	db 21			; 0x235 min_alignment (log2)
	dw 0x0001		; 0x236 xloadflags: XLF_KERNEL_64
	dd 2047			; 0x238 cmdline_size
	dd 0			; 0x23c hardware_subarch
	dq 0			; 0x240 hardware_subarch_data
	dd 0			; 0x248 payload_offset
	dd 0			; 0x24c payload_length
	dq 0			; 0x250 setup_data
	dq 0x1000000		; 0x258 pref_address: 16 MiB
	dd __init_size		; 0x260 init_size: image + bss from the load address
	dd 0			; 0x264 handover_offset (no EFI handover)
hdr_end:
version_str:
	db "tguest (Tern test guest)", 0
	times 0x400 - ($ - setup_start) db 0

; ---- protected-mode part: entry points -------------------------------------------------------
section .head progbits alloc exec nowrite align=16
bits 32
startup_32:			; load address + 0: 32-bit entry, not supported
	cli
.stop:	hlt
	jmp .stop
	times 0x200 - ($ - startup_32) db 0xcc
bits 64
startup_64:			; load address + 0x200: Tern enters here in long mode, RSI = boot_params
	cli
	cld
	mov r12, rsi
	lea rdi, [__bss_start]	; zero .bss (the stack is in it)
	lea rcx, [_end]
	sub rcx, rdi
	shr rcx, 3
	xor eax, eax
	rep stosq
	lea rsp, [stack_top]
	xor ebp, ebp
	mov rdi, r12
	call tg_main
.halt:	cli
	hlt
	jmp .halt

; ---- interrupt entry ----------------------------------------------------------------------
; One 16-byte stub per vector: push a zero error code where the CPU pushes none, push the
; vector, join isr_common, which saves the GPRs and calls tg_trap(struct tg_frame *).
section .text
align 16
isr_stubs:
%assign vec 0
%rep 256
	align 16
%if vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30
%else
	push qword 0
%endif
	push qword vec
	jmp isr_common
%assign vec vec + 1
%endrep

isr_common:
	push rax
	push rbx
	push rcx
	push rdx
	push rsi
	push rdi
	push rbp
	push r8
	push r9
	push r10
	push r11
	push r12
	push r13
	push r14
	push r15
	mov rdi, rsp
	cld
	call tg_trap
	pop r15
	pop r14
	pop r13
	pop r12
	pop r11
	pop r10
	pop r9
	pop r8
	pop rbp
	pop rdi
	pop rsi
	pop rdx
	pop rcx
	pop rbx
	pop rax
	add rsp, 16
	iretq

; ---- small helpers --------------------------------------------------------------------------
; void tg_load_gdt(const void *gdtr, uint16_t cs, uint16_t ds): lgdt and reload every segment.
global tg_load_gdt
tg_load_gdt:
	lgdt [rdi]
	mov ds, dx
	mov es, dx
	mov ss, dx
	mov fs, dx
	mov gs, dx
	lea rax, [.reload]
	push rsi
	push rax
	o64 retf
.reload:
	ret

; void tg_triple_fault(void): empty IDT, then int3: #GP -> #DF -> shutdown.
global tg_triple_fault
tg_triple_fault:
	cli
	lea rax, [.zero_idtr]
	lidt [rax]
	int3
	ud2
.stop:	hlt
	jmp .stop
.zero_idtr:
	dw 0
	dq 0

section .bss
align 4096
stack_bottom:
	resb 16384
stack_top:
