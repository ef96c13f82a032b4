/* Backend selection and per-CPU enabling; see vmm.h. */
#include "vmm/vmm.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/percpu.h"
#include "kernel/pmm.h"
#include "kernel/sched.h"
#include "kernel/smp.h"
#include "vmm/hvdetect.h"
#include "vmm/npt.h"
#include "vmm/svm/svm.h"
#include "vmm/vmx/vmx.h"

const struct vmm_backend *vmm;

static struct spinlock g_lock = SPINLOCK_INIT("vmm-init");
static struct waitq g_wq;
static int g_done, g_failed;

/* init_on_cpu: runs as a short thread pinned to each CPU. */
static void init_on_cpu(void *arg)
{
	const struct vmm_backend *b = arg;
	int rc = b->cpu_init();
	spin_lock(&g_lock);
	g_done++;
	if (rc < 0)
		g_failed++;
	waitq_wake_all(&g_wq);
	spin_unlock(&g_lock);
}

/* npt page-table pages for the kernel: zeroed pmm pages through the direct map. */
static void *kalloc_table(uint64_t *hpa)
{
	uint64_t pa = pmm_alloc_zeroed(0);
	if (!pa)
		return NULL;
	*hpa = pa;
	return P2V(pa);
}

static void kfree_table(uint64_t hpa)
{
	pmm_free(hpa, 0);
}

static void *khva(uint64_t hpa)
{
	return P2V(hpa);
}

const struct npt_mem_ops npt_kernel_mem = {kalloc_table, kfree_table, khva};

void vmm_init(void)
{
	const struct hv_caps *hv = hv_detect();
	const struct vmm_backend *b = NULL;
	if (hv->vendor == HV_SVM)
		b = &svm_backend;
	else if (hv->vendor == HV_VMX)
		b = &vmx_backend;
	if (!b) {
		klog("vmm: no virtualization backend (%s)", hv->why_not);
		return;
	}
	int n = 0;
	for (int i = 0; i < ncpus; i++) {
		if (!cpus[i].online)
			continue;
		if (!thread_create("vmm-init", init_on_cpu, (void *)b, i))
			g_failed++;
		n++;
	}
	spin_lock(&g_lock);
	while (g_done + g_failed < n)
		waitq_wait(&g_wq, &g_lock, 0);
	spin_unlock(&g_lock);
	if (g_failed) {
		klog("vmm: %s failed on %d CPU(s); VMs disabled", b->name, g_failed);
		hv_backend_failed(b == &vmx_backend ? vmx_why_not() : "start-up failed (see log)");
		return;
	}
	vmm = b;
	klog("vmm: %s enabled on %d CPU(s)", b->name, n);
	klog("backend: %s", b->name);
}
