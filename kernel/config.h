/*
 * Applying tern.conf. Subsystems register what they understand, like shell commands:
 *   CONF_KEY(id, "node", fn)         a key of the global section: fn(value) -> error or NULL
 *   CONF_SECTION(id, "vm", begin, key, end)   a [vm NAME] section
 * Unknown keys and sections are reported with their line; boot continues with defaults.
 */
#ifndef TERN_CONFIG_H
#define TERN_CONFIG_H

#include "kernel/compiler.h"

struct conf_key_def {
	const char *key;
	const char *(*fn)(const char *value);
};

struct conf_section_def {
	const char *type;
	/* begin: start a section; returns state for key/end, or NULL with *err set */
	void *(*begin)(const char *name, const char **err);
	const char *(*key)(void *state, const char *key, const char *value);
	/* end: the section is complete; apply it (report problems with klog) */
	void (*end)(void *state);
};

#define CONF_KEY(id, k, f)                                                                         \
	static const struct conf_key_def conf_key_##id                                             \
	    __attribute__((used, section(".conf_keys"), aligned(8))) = {k, f}
#define CONF_SECTION(id, t, b, k, e)                                                               \
	static const struct conf_section_def conf_section_##id                                     \
	    __attribute__((used, section(".conf_sections"), aligned(8))) = {t, b, k, e}

/* config_load: parse tern.conf from the boot stick, if there is one. */
void config_load(void);
/* node_name: this host's name (tern.conf `node`, default "tern"). */
const char *node_name(void);
/* config_errors: errors found in tern.conf at boot. */
int config_errors(void);

#endif
