/* VM configuration keys shared by the console and tern.conf; autostart at boot. */
#ifndef TERN_VMCMD_H
#define TERN_VMCMD_H

struct vm_config;

/* vm_config_set: apply key=value to a configuration; NULL or an error message. */
const char *vm_config_set(struct vm_config *c, const char *key, const char *value);
/* vm_autostart: start every VM configured with autostart = on. */
void vm_autostart(void);

#endif
