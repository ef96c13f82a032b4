/* Which hardware virtualization this CPU offers (CPUID), before any backend is started. */
#ifndef TERN_HVDETECT_H
#define TERN_HVDETECT_H

#include "kernel/compiler.h"

enum hv_vendor { HV_NONE, HV_SVM, HV_VMX };

struct hv_caps {
	enum hv_vendor vendor;
	char cpu_vendor[13];
	char brand[49];
	bool nested_paging;  /* NPT (AMD) / EPT (Intel) */
	const char *why_not; /* reason when vendor == HV_NONE */
};

/* hv_detect: read CPUID (once) and report what is there. */
const struct hv_caps *hv_detect(void);
/* hv_backend_name: "AMD-V (SVM+NPT)", "Intel VT-x (VMX+EPT)" or "none". */
const char *hv_backend_name(void);
/* hv_backend_failed: the backend did not start: report none, for this reason, from now on. */
void hv_backend_failed(const char *why);

#endif
