; Interrupt and exception entry stubs (SDM 3A 6.14: 64-bit mode interrupt stack frame).
; Each stub makes the frame uniform (pushes a zero error code where the CPU pushes none) and
; its vector number, then the common path saves the GPRs into a struct trap_frame.
bits 64
section .text

extern trap_dispatch

%macro STUB_NOERR 1
isr_%1:
	push 0
	push %1
	jmp trap_common
%endmacro

%macro STUB_ERR 1
isr_%1:
	push %1
	jmp trap_common
%endmacro

trap_common:
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
	cld
	mov rdi, rsp
	call trap_dispatch
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
	add rsp, 16		; vector and error code
	iretq

; Vectors 8, 10-14, 17, 21, 29, 30 push an error code (SDM 3A table 6-1, APM 8.2).
%assign i 0
%rep 256
%if i == 8 || (i >= 10 && i <= 14) || i == 17 || i == 21 || i == 29 || i == 30
	STUB_ERR i
%else
	STUB_NOERR i
%endif
%assign i i+1
%endrep

section .rodata
global isr_table
isr_table:
%assign i 0
%rep 256
	dq isr_ %+ i
%assign i i+1
%endrep
