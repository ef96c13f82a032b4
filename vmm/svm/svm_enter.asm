; SVM world switch (APM vol. 2 15.5, 15.5.2). VMRUN itself swaps only RAX, RSP, RIP, RFLAGS,
; segment, control and a few other registers; VMLOAD/VMSAVE move FS, GS, TR, LDTR,
; KernelGSBase, STAR/LSTAR/CSTAR/SFMASK and SYSENTER_*. The other GPRs are swapped by hand.
; The caller runs this with GIF clear (CLGI), so no interrupt sees the guest's GS base.
bits 64
section .text

; void svm_enter(uint64_t guest_vmcb_pa, uint64_t *gprs, uint64_t host_vmcb_pa)
;   gprs: 16 guest GPRs in x86 encoding order; [0] (RAX) and [4] (RSP) live in the VMCB.
global svm_enter
svm_enter:
	push rbp
	push rbx
	push r12
	push r13
	push r14
	push r15
	push rdx			; [rsp+16] host VMCB
	push rsi			; [rsp+8]  gprs
	push rdi			; [rsp]    guest VMCB

	mov rax, rdx
	vmsave				; host FS/GS/TR/... into the host VMCB

	mov rax, rsi
	mov rcx, [rax + 8*1]
	mov rdx, [rax + 8*2]
	mov rbx, [rax + 8*3]
	mov rbp, [rax + 8*5]
	mov rsi, [rax + 8*6]
	mov rdi, [rax + 8*7]
	mov r8,  [rax + 8*8]
	mov r9,  [rax + 8*9]
	mov r10, [rax + 8*10]
	mov r11, [rax + 8*11]
	mov r12, [rax + 8*12]
	mov r13, [rax + 8*13]
	mov r14, [rax + 8*14]
	mov r15, [rax + 8*15]

	mov rax, [rsp]
	vmload
	vmrun
	vmsave				; RAX = guest VMCB again after #VMEXIT

	mov rax, [rsp + 8]
	mov [rax + 8*1], rcx
	mov [rax + 8*2], rdx
	mov [rax + 8*3], rbx
	mov [rax + 8*5], rbp
	mov [rax + 8*6], rsi
	mov [rax + 8*7], rdi
	mov [rax + 8*8], r8
	mov [rax + 8*9], r9
	mov [rax + 8*10], r10
	mov [rax + 8*11], r11
	mov [rax + 8*12], r12
	mov [rax + 8*13], r13
	mov [rax + 8*14], r14
	mov [rax + 8*15], r15

	mov rax, [rsp + 16]
	vmload				; host state back (GS base = this CPU's struct cpu)

	add rsp, 24
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
