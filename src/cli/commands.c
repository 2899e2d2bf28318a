/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command table and the global flags: what main() dispatches on and
 * what help, man pages and completion are made from (cli.h). Kept apart
 * from main() so that those readers of the table do not depend on it.
 */
#include <string.h>

#include "cli.h"

struct cli_global cli_global;
const char *cli_program = "cstor";

const struct cli_flag cli_global_flags[] = {
	{ { "-run", "R" }, CLI_STRING, &cli_global.run_root, "Root of the runtime state tree",
	  "runroot of storage.conf, else /run/containers/storage", "DIR" },
	{ { "-graph", "g" }, CLI_STRING, &cli_global.graph_root, "Root of the storage tree",
	  "graphroot of storage.conf, else /var/lib/containers/storage", "DIR" },
	{ { "-image-store" }, CLI_STRING, &cli_global.image_store,
	  "Root of the separate image store (images and their layers)",
	  "imagestore of storage.conf, else none", "DIR" },
	{ { "-storage-driver", "s" }, CLI_STRING, &cli_global.driver,
	  "Storage driver to use ($STORAGE_DRIVER)",
	  "driver of storage.conf, else the one the store used, else overlay or vfs", "DRIVER" },
	{ { "-storage-opt" }, CLI_LIST, &cli_global.storage_opts,
	  "Set storage driver options ($STORAGE_OPTS; repeatable)", "options of storage.conf",
	  "KEY=VALUE" },
	{ { "-debug", "D" }, CLI_BOOL, &cli_global.debug, "Print debugging information" },
	{ { "-transient-store" }, CLI_BOOL, &cli_global.transient_store,
	  "Keep container records in the run root (lost at reboot)",
	  "transient_store of storage.conf, else false" },
	{ { NULL } },
};

/* One line per command; its help, man page and completion come from the
 * entry (cli.h). */
const struct cli_cmd *const cli_commands[] = {
	&cmd_add_names,
	&cmd_applydiff,
	&cmd_applydiff_staged,
	&cmd_changes,
	&cmd_check,
	&cmd_config,
	&cmd_container,
	&cmd_container_parent_owners,
	&cmd_containers,
	&cmd_copy,
	&cmd_create_container,
	&cmd_create_image,
	&cmd_create_layer,
	&cmd_create_storage_layer,
	&cmd_dedup,
	&cmd_delete,
	&cmd_delete_container,
	&cmd_delete_image,
	&cmd_delete_layer,
	&cmd_diff,
	&cmd_diffsize,
	&cmd_exists,
	&cmd_export,
	&cmd_gc,
	&cmd_get_container_data,
	&cmd_get_container_data_digest,
	&cmd_get_container_data_size,
	&cmd_get_container_dir,
	&cmd_get_container_run_dir,
	&cmd_get_image_data,
	&cmd_get_image_data_digest,
	&cmd_get_image_data_size,
	&cmd_get_image_dir,
	&cmd_get_image_run_dir,
	&cmd_get_layer_data,
	&cmd_get_names,
	&cmd_image,
	&cmd_images,
	&cmd_images_by_digest,
	&cmd_import,
	&cmd_import_layer,
	&cmd_layer,
	&cmd_layer_parent_owners,
	&cmd_layers,
	&cmd_list_container_data,
	&cmd_list_image_data,
	&cmd_list_layer_data,
	&cmd_list_tags,
	&cmd_metadata,
	&cmd_mount,
	&cmd_mounted,
	&cmd_pull,
	&cmd_push,
	&cmd_remove_names,
	&cmd_set_container_data,
	&cmd_set_image_data,
	&cmd_set_layer_data,
	&cmd_set_metadata,
	&cmd_set_names,
	&cmd_shutdown,
	&cmd_status,
	&cmd_storage_layers,
	&cmd_unmount,
	&cmd_unshare,
	&cmd_version,
	&cmd_wipe,
	&cmd_with_mount,
};
const size_t cli_n_commands = sizeof(cli_commands) / sizeof(cli_commands[0]);

const struct cli_cmd *cli_lookup(const char *name)
{
	for (size_t i = 0; i < cli_n_commands; i++)
		for (size_t n = 0; n < 4 && cli_commands[i]->names[n]; n++)
			if (strcmp(cli_commands[i]->names[n], name) == 0)
				return cli_commands[i];
	return NULL;
}

