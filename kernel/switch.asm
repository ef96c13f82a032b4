; Thread context switch (System V ABI: rbx, rbp, r12-r15 are callee-saved).
bits 64
section .text

; void switch_to(uint64_t *prev_rsp, uint64_t next_rsp)
global switch_to
switch_to:
	push rbp
	push rbx
	push r12
	push r13
	push r14
	push r15
	mov [rdi], rsp
	mov rsp, rsi
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret

; First code a new thread runs: its initial stack was built so that switch_to's "ret" lands here.
extern thread_entry
global thread_start
thread_start:
	xor ebp, ebp
	call thread_entry
	ud2
