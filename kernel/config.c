/* tern.conf: parse with conf_parse, dispatch to registered keys and sections; see config.h. */
#include "kernel/config.h"
#include "kernel/args.h"
#include "kernel/bootfs.h"
#include "kernel/conf.h"
#include "kernel/console.h"
#include "kernel/log.h"
#include "kernel/shell.h"
#include "kernel/string.h"

extern const struct conf_key_def __conf_keys_start[], __conf_keys_end[];
extern const struct conf_section_def __conf_sections_start[], __conf_sections_end[];

struct loader_ctx {
	const struct conf_section_def *sec; /* NULL in the global section or a skipped one */
	void *state;
	bool global;
};

static char g_node[32] = "tern";
static int g_errors;

const char *node_name(void)
{
	return g_node;
}

int config_errors(void)
{
	return g_errors;
}

/* set_node: `node = NAME`. */
static const char *set_node(const char *v)
{
	if (!name_valid(v))
		return "node name must be 1-31 of [A-Za-z0-9_.-]";
	tern_strlcpy(g_node, v, sizeof(g_node));
	return NULL;
}
CONF_KEY(node, "node", set_node);

/* on_section: find the handler for a section type. */
static const char *on_section(void *c, const char *type, const char *name, int line)
{
	struct loader_ctx *ctx = c;
	(void)line;
	ctx->sec = NULL;
	ctx->state = NULL;
	ctx->global = !*type;
	if (ctx->global)
		return NULL;
	for (const struct conf_section_def *s = __conf_sections_start; s < __conf_sections_end;
	     s++) {
		if (strcmp(s->type, type))
			continue;
		if (!name_valid(name))
			return "section needs a name of 1-31 of [A-Za-z0-9_.-]";
		const char *err = NULL;
		ctx->state = s->begin(name, &err);
		if (!ctx->state)
			return err ? err : "section rejected";
		ctx->sec = s;
		return NULL;
	}
	return "unknown section type (section skipped)";
}

/* on_key: a global key, or a key of the current section. */
static const char *on_key(void *c, const char *key, const char *value, int line)
{
	struct loader_ctx *ctx = c;
	(void)line;
	if (ctx->sec)
		return ctx->sec->key(ctx->state, key, value);
	if (!ctx->global)
		return NULL; /* inside a skipped section: already reported */
	for (const struct conf_key_def *k = __conf_keys_start; k < __conf_keys_end; k++)
		if (!strcmp(k->key, key))
			return k->fn(value);
	return "unknown key (ignored)";
}

/* on_end: apply a finished section. */
static void on_end(void *c)
{
	struct loader_ctx *ctx = c;
	if (ctx->sec)
		ctx->sec->end(ctx->state);
	ctx->sec = NULL;
	ctx->state = NULL;
	ctx->global = false;
}

/* on_error: "tern.conf:LINE: message". */
static void on_error(void *c, int line, const char *msg)
{
	(void)c;
	klog("tern.conf:%d: %s", line, msg);
}

static const struct conf_ops g_ops = {on_section, on_key, on_end, on_error};

/* config_load: parse and apply the boot stick's tern.conf. */
void config_load(void)
{
	const struct bootfs_file *f = bootfs_find("tern.conf");
	if (!f) {
		klog("config: no tern.conf, using defaults");
		return;
	}
	struct loader_ctx ctx = {0};
	g_errors = conf_parse((const char *)f->data, f->size, &g_ops, &ctx);
	klog("config: tern.conf read, %d error(s); node %s", g_errors, g_node);
}

/* cmd_config: show tern.conf as loaded from the stick. */
static int cmd_config(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("config");
	const struct bootfs_file *f = bootfs_find("tern.conf");
	if (!f) {
		kprintf("no tern.conf on the boot stick (defaults in use)\n");
		return 0;
	}
	kprintf("# tern.conf (%llu bytes, %d error(s) at boot; see 'log')\n",
	        (unsigned long long)f->size, g_errors);
	console_write_text((const char *)f->data, f->size);
	return 0;
}
SHELL_COMMAND(config, "config", "config", "show tern.conf as read at boot", cmd_config);
