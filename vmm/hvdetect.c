/* CPUID probing for SVM (APM vol. 2 15.4) and VMX (SDM 3C 23.6). */
#include "vmm/hvdetect.h"
#include "kernel/string.h"
#include "kernel/x86.h"

static struct hv_caps g_caps;
static bool g_done;

/* probe_svm: CPUID 8000_0001h ECX[2] SVM, 8000_000Ah EDX[0] nested paging. */
static void probe_svm(void)
{
	uint32_t r[4];
	cpuid(0x80000000, 0, r);
	if (r[0] < 0x8000000a) {
		g_caps.why_not = "CPU lacks the SVM CPUID leaves";
		return;
	}
	cpuid(0x80000001, 0, r);
	if (!(r[2] & (1u << 2))) {
		g_caps.why_not = "SVM not offered (CPUID 8000_0001h:ECX.SVM = 0)";
		return;
	}
	if (rdmsr(0xc0010114) & (1u << 4)) { /* VM_CR.SVMDIS */
		g_caps.why_not = "SVM disabled by firmware (VM_CR.SVMDIS)";
		return;
	}
	cpuid(0x8000000a, 0, r);
	g_caps.nested_paging = r[3] & 1;
	if (!g_caps.nested_paging) {
		g_caps.why_not = "SVM without nested paging is not supported";
		return;
	}
	g_caps.vendor = HV_SVM;
}

/* probe_vmx: CPUID.1:ECX[5] VMX, not locked off by firmware in IA32_FEATURE_CONTROL (SDM 3C
 * 24.7); EPT and the rest are checked by the backend from the VMX capability MSRs. */
static void probe_vmx(void)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	if (!(r[2] & (1u << 5))) {
		g_caps.why_not = "VMX not offered (CPUID.1:ECX.VMX = 0)";
		return;
	}
	uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
	if ((fc & 1) && !(fc & 4)) { /* locked, VMX outside SMX off */
		g_caps.why_not = "VMX disabled by firmware (IA32_FEATURE_CONTROL)";
		return;
	}
	g_caps.vendor = HV_VMX;
	g_caps.nested_paging = true;
}

const struct hv_caps *hv_detect(void)
{
	if (g_done)
		return &g_caps;
	uint32_t r[4];
	cpuid(0, 0, r);
	memcpy(g_caps.cpu_vendor, &r[1], 4);
	memcpy(g_caps.cpu_vendor + 4, &r[3], 4);
	memcpy(g_caps.cpu_vendor + 8, &r[2], 4);
	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000004) {
		for (uint32_t i = 0; i < 3; i++) {
			cpuid(0x80000002 + i, 0, r);
			memcpy(g_caps.brand + 16 * i, r, 16);
		}
	}
	if (!strcmp(g_caps.cpu_vendor, "AuthenticAMD") ||
	    !strcmp(g_caps.cpu_vendor, "HygonGenuine"))
		probe_svm();
	else if (!strcmp(g_caps.cpu_vendor, "GenuineIntel"))
		probe_vmx();
	else
		g_caps.why_not = "unknown CPU vendor";
	g_done = true;
	return &g_caps;
}

const char *hv_backend_name(void)
{
	switch (hv_detect()->vendor) {
	case HV_SVM:
		return "AMD-V (SVM+NPT)";
	case HV_VMX:
		return "Intel VT-x (VMX+EPT)";
	default:
		return "none";
	}
}

void hv_backend_failed(const char *why)
{
	hv_detect();
	g_caps.vendor = HV_NONE;
	g_caps.why_not = why;
}
