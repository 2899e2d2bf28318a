/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Arbitrary bytes as storage.conf, resolved into a store's configuration
 * as opening a store does (the TOML parser, then every table and key cstor
 * reads: paths, driver, options of each driver's table, additional image
 * stores). A failure must be an error naming the file; a success must give
 * absolute roots and "driver.key=value" options only.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/config.h"
#include "util/error-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[48], path[64];

/* The scratch directory goes with the process (replays run in CI). */
static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0]) {
		snprintf(dir, sizeof(dir), "/tmp/cstor-fuzz-config-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof(path), "%s/storage.conf", dir);
		atexit(remove_dir);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
	cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
	o.config_file = path;
	struct cstor_config c = { 0 };
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_config_resolve(&c, &o, &err);
	if (r == 0) {
		if (!c.graph_root || c.graph_root[0] != '/' || !c.run_root || c.run_root[0] != '/')
			abort();
		for (size_t i = 0; c.driver_opts && c.driver_opts[i]; i++)
			if (!strchr(c.driver_opts[i], '='))
				abort();
	} else if (r != -ENOMEM && (!err.msg || !strstr(err.msg, "storage.conf"))) {
		fprintf(stderr, "error without the file's name: %s\n", err.msg ? err.msg : "(none)");
		abort();
	}
	/* Whatever resolve filled, also when it failed (as open does). */
	cstor_config_done(&c);
	cstor_error_clear(&err);
	return 0;
}
