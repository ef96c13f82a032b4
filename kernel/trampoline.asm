; Application-processor start-up code (SDM 3A 8.4.4 and 9.8: real mode -> protected mode ->
; long mode). The kernel copies this blob to a page below 1 MiB and points the SIPI at it; the
; code finds its own linear base from CS and so runs at any page. Parameters are written into
; the p_* fields of the copy before each start-up IPI.
bits 16
section .rodata
align 16
global tramp_start, tramp_end
global tramp_p_cr3, tramp_p_efer, tramp_p_stack, tramp_p_entry, tramp_p_arg

%define OFF(x) ((x) - tramp_start)

tramp_start:
	cli
	cld
	mov ax, cs
	mov ds, ax
	xor ebx, ebx
	mov bx, ax
	shl ebx, 4			; ebx = linear base of this page
	lea eax, [ebx + OFF(gdt)]
	mov [OFF(gdtr) + 2], eax
	lea eax, [ebx + OFF(pm32)]
	mov [OFF(far32)], eax
	lgdt [OFF(gdtr)]
	mov eax, cr0
	or eax, 1			; CR0.PE
	mov cr0, eax
	jmp dword far [OFF(far32)]

bits 32
pm32:
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov eax, cr4
	or eax, 1 << 5			; CR4.PAE
	mov cr4, eax
	mov eax, [ebx + OFF(tramp_p_cr3)]
	mov cr3, eax
	mov ecx, 0xc0000080		; EFER
	rdmsr
	or eax, [ebx + OFF(tramp_p_efer)]	; LME (+ NXE when the BSP uses it)
	wrmsr
	mov eax, cr0
	or eax, 0x80010001		; PG | WP | PE
	mov cr0, eax
	lea eax, [ebx + OFF(lm64)]
	mov [ebx + OFF(far64)], eax
	jmp far [ebx + OFF(far64)]

bits 64
lm64:
	mov ebx, ebx			; upper half is undefined after the mode switch
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov rsp, [rbx + OFF(tramp_p_stack)]
	mov rdi, [rbx + OFF(tramp_p_arg)]
	mov rax, [rbx + OFF(tramp_p_entry)]
	xor ebp, ebp
	jmp rax

align 8
gdt:
	dq 0
	dq 0x00cf9a000000ffff		; 0x08: 32-bit code
	dq 0x00cf92000000ffff		; 0x10: data
	dq 0x00af9a000000ffff		; 0x18: 64-bit code
gdtr:
	dw 4 * 8 - 1
	dd 0
far32:
	dd 0
	dw 0x08
far64:
	dd 0
	dw 0x18
align 8
tramp_p_cr3:	dd 0
tramp_p_efer:	dd 0
tramp_p_stack:	dq 0
tramp_p_entry:	dq 0
tramp_p_arg:	dq 0
tramp_end:
