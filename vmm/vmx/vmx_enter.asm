; VMX world switch (SDM 3C 27 VM entries, 28.5 loading host state on VM exits).
; VM entry loads RSP, RIP, RFLAGS and the rest of the guest state from the VMCS; the other
; fifteen GPRs are swapped here. A VM exit resumes at vmx_exit_point (HOST_RIP) with RSP =
; HOST_RSP, which vmx_enter writes each time, so the exit lands on this very stack frame.
; The caller runs this with interrupts disabled; a VM exit leaves RFLAGS = 2 (IF=0, DF=0).
bits 64
section .text

%define VMCS_HOST_RSP 0x6c14

; int vmx_enter(uint64_t *gprs, int launched)
;   gprs: 16 guest GPRs in x86 encoding order; [4] (RSP) lives in the VMCS.
;   Returns 0 after a VM exit, 1 if VMLAUNCH/VMRESUME failed with VMfailInvalid, 2 with
;   VMfailValid (the VM-instruction error field says why), 3 if HOST_RSP could not be written.
global vmx_enter
global vmx_exit_point
vmx_enter:
	push rbp
	push rbx
	push r12
	push r13
	push r14
	push r15
	push rdi			; [rsp] = gprs, found again by the exit path

	mov rax, VMCS_HOST_RSP
	vmwrite rax, rsp
	jbe .nohost			; CF or ZF: VMfail

	test esi, esi			; flags survive the MOVs below
	mov rax, rdi
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
	mov rax, [rax + 8*0]
	jnz .resume
	vmlaunch
	jmp .fail
.resume:
	vmresume
.fail:					; still on our stack; registers hold guest values
	mov eax, 2
	mov ecx, 1
	cmovc eax, ecx			; CF: VMfailInvalid
	jmp .out
.nohost:
	mov eax, 3
.out:
	add rsp, 8
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret

vmx_exit_point:
	push rax			; guest RAX; [rsp + 8] = gprs
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
	pop rcx
	mov [rax + 8*0], rcx
	xor eax, eax
	add rsp, 8
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
