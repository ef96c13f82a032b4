; Tern test guest: the `dirty` test's wait/write loop (see docs/testguest.md).
;
; After the first touch of the region and the ARMED line, nothing here writes memory: no
; stack (subroutines return through link registers), no variables; the parameters in g_dirty
; are only read. Interrupts stay disabled; COM1 is polled. Per received byte:
;   'w'  write one qword into K pages of the region, then print the WROTE line
;   'p'  print an IDLE line (nothing written)
;   'q'  return to C (which prints the DONE line)
; Page j of round r is (r + j * stride) mod npages.

bits 64
default rel

extern g_dirty
global tg_dirty_loop

%define D_BASE	 0
%define D_NPAGES 8
%define D_K	 16
%define D_STRIDE 24
%define D_NPT	 32
%define D_PT	 40		; four qwords
%define D_COM1	 72
%define D_E9	 73

; CALL_L link, target: jump to a subroutine that returns with `jmp link`.
%macro CALL_L 2
	lea %1, [%%ret]
	jmp %2
%%ret:
%endmacro

; EMIT_LINE routine: run a line routine (link r13) once per enabled output port (ebp selects).
%macro EMIT_LINE 1
	xor ebp, ebp
	cmp byte [g_dirty + D_COM1], 0
	je %%e9
	CALL_L r13, %1
%%e9:
	mov ebp, 1
	cmp byte [g_dirty + D_E9], 0
	je %%done
	CALL_L r13, %1
%%done:
%endmacro

; PUTS label: print a string constant (link r14).
%macro PUTS 1
	lea rsi, [%1]
	CALL_L r14, putstr
%endmacro

section .text

; uint64_t tg_dirty_loop(void): returns the number of rounds written when 'q' arrives.
tg_dirty_loop:
	push rbx		; stack writes happen only before the ARMED line
	push rbp
	push r12
	push r13
	push r14
	push r15
	cli
	mov rdi, [g_dirty + D_BASE]
	mov rcx, [g_dirty + D_NPAGES]
.touch:	mov qword [rdi], 0	; first touch: guest page-table A/D bits are set from now on
	add rdi, 4096
	dec rcx
	jnz .touch
	xor r12d, r12d		; round
	EMIT_LINE line_armed
.wait:	mov dx, 0x3fd		; LSR
.poll:	in al, dx
	test al, 1		; data ready
	jz .poll
	mov dx, 0x3f8
	in al, dx
	cmp al, 'w'
	je .write
	cmp al, 'p'
	je .ping
	cmp al, 'q'
	je .quit
	jmp .wait
.write:	xor r8d, r8d
.wl:	cmp r8, [g_dirty + D_K]
	jae .wdone
	mov rax, r8
	imul rax, [g_dirty + D_STRIDE]
	add rax, r12
	xor edx, edx
	div qword [g_dirty + D_NPAGES]
	shl rdx, 12
	add rdx, [g_dirty + D_BASE]
	mov rax, r12
	shl rax, 32
	or rax, r8
	bts rax, 63
	mov [rdx], rax		; the only memory write of a round
	inc r8
	jmp .wl
.wdone:	EMIT_LINE line_wrote
	inc r12
	jmp .wait
.ping:	EMIT_LINE line_idle
	jmp .wait
.quit:	mov rax, r12
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbp
	pop rbx
	ret

; ---- line routines (link r13) ---------------------------------------------------------------
line_armed:
	PUTS s_armed
	mov rax, [g_dirty + D_BASE]
	CALL_L r14, puthex
	PUTS s_pages
	mov rax, [g_dirty + D_NPAGES]
	CALL_L r14, putdec
	PUTS s_k
	mov rax, [g_dirty + D_K]
	CALL_L r14, putdec
	PUTS s_stride
	mov rax, [g_dirty + D_STRIDE]
	CALL_L r14, putdec
	PUTS s_pt
	xor r8d, r8d
.l:	cmp r8, [g_dirty + D_NPT]
	jae .d
	test r8, r8
	jz .nc
	mov bl, ','
	CALL_L r15, putc
.nc:	lea rax, [g_dirty + D_PT]
	mov rax, [rax + r8 * 8]
	CALL_L r14, puthex
	inc r8
	jmp .l
.d:	PUTS s_eol
	jmp r13

line_wrote:
	PUTS s_wrote
	mov rax, [g_dirty + D_K]
	CALL_L r14, putdec
	PUTS s_gpas
	xor r8d, r8d
.l:	cmp r8, [g_dirty + D_K]
	jae .d
	test r8, r8
	jz .nc
	mov bl, ','
	CALL_L r15, putc
.nc:	mov rax, r8
	imul rax, [g_dirty + D_STRIDE]
	add rax, r12
	xor edx, edx
	div qword [g_dirty + D_NPAGES]
	shl rdx, 12
	add rdx, [g_dirty + D_BASE]
	mov rax, rdx
	CALL_L r14, puthex
	inc r8
	jmp .l
.d:	PUTS s_round
	mov rax, r12
	CALL_L r14, putdec
	PUTS s_eol
	jmp r13

line_idle:
	PUTS s_idle
	mov rax, r12
	CALL_L r14, putdec
	PUTS s_eol
	jmp r13

; ---- output subroutines -------------------------------------------------------------------
; putc: bl = character, ebp = 0 COM1 (polled) / 1 port 0xE9; link r15; clobbers al, dx.
putc:
	test ebp, ebp
	jnz .e9
	mov dx, 0x3fd
.w:	in al, dx
	test al, 0x20		; THR empty
	jz .w
	mov dx, 0x3f8
	mov al, bl
	out dx, al
	jmp r15
.e9:	mov al, bl
	out 0xe9, al
	jmp r15

; putstr: rsi = NUL-terminated string; link r14; clobbers rsi, bl, al, dx.
putstr:
	mov bl, [rsi]
	test bl, bl
	jz .d
	CALL_L r15, putc
	inc rsi
	jmp putstr
.d:	jmp r14

; puthex: rax = value, printed as 0x... without leading zeros; link r14;
; clobbers rax, rbx, rcx, rdx, rdi.
puthex:
	mov rdi, rax
	mov bl, '0'
	CALL_L r15, putc
	mov bl, 'x'
	CALL_L r15, putc
	mov ecx, 60
.skip:	test ecx, ecx
	jz .dig
	mov rax, rdi
	shr rax, cl
	test eax, 15
	jnz .dig
	sub ecx, 4
	jmp .skip
.dig:	mov rax, rdi
	shr rax, cl
	and eax, 15
	lea ebx, [rax + '0']
	cmp eax, 10
	jb .p
	lea ebx, [rax + 'a' - 10]
.p:	CALL_L r15, putc
	sub ecx, 4
	jns .dig
	jmp r14

; putdec: rax = value in decimal; link r14; clobbers rax, rbx, rcx, rdx, rsi, rdi.
putdec:
	mov rdi, rax
	mov ecx, 1
	mov rsi, 1000000000000000000
.up:	cmp rcx, rsi
	jae .down
	imul rax, rcx, 10
	cmp rax, rdi
	ja .down
	mov rcx, rax
	jmp .up
.down:	mov rax, rdi
	xor edx, edx
	div rcx
	mov rdi, rdx
	lea ebx, [rax + '0']
	CALL_L r15, putc
	mov rax, rcx
	xor edx, edx
	mov esi, 10
	div rsi
	mov rcx, rax
	test rcx, rcx
	jnz .down
	jmp r14

section .rodata
s_armed:	db "TGUEST DIRTY ARMED region=", 0
s_pages:	db " pages=", 0
s_k:		db " k=", 0
s_stride:	db " stride=", 0
s_pt:		db " pt=", 0
s_wrote:	db "TGUEST DIRTY WROTE count=", 0
s_gpas:		db " gpas=", 0
s_round:	db " round=", 0
s_idle:		db "TGUEST DIRTY IDLE round=", 0
s_eol:		db 13, 10, 0
