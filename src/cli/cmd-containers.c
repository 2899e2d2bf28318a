/* SPDX-License-Identifier: Apache-2.0 */
/* containers, container, create-container, delete-container,
 * get-container-dir, get-container-run-dir */
#include <stdlib.h>
#include <string.h>

#include <cstor/container.h>
#include <cstor/image.h>

#include "cli.h"

static bool json, is_volatile;
static char *id, *metadata, *metadata_file;
static struct cli_idmap_args idmap;
static char **names;

static const struct cli_flag json_flags[] = {
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static const struct cli_flag create_flags[] = {
	{ { "-name", "n" }, CLI_LIST, &names, "Container name" },
	{ { "-volatile" }, CLI_BOOL, &is_volatile, "Mark as volatile" },
	{ { "-id", "i" }, CLI_STRING, &id, "Container ID" },
	{ { "-metadata", "m" }, CLI_STRING, &metadata, "Metadata" },
	{ { "-metadata-file", "f" }, CLI_STRING, &metadata_file, "Metadata File" },
	CLI_JSON_FLAG(json),
	CLI_IDMAP_FLAGS(idmap),
	{ { NULL } },
};

static int fail(const char *what, cstor_error *err)
{
	cli_error(what, err);
	cstor_error_clear(err);
	return EXIT_FAIL;
}

static void print_json_list(cstor_container **list)
{
	putchar('[');
	for (size_t i = 0; list[i]; i++) {
		char *j = cstor_container_to_json(list[i]);
		printf("%s%s", i ? "," : "", j ? j : "null");
		free(j);
	}
	puts("]");
}

static int containers(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_container **list = NULL;
	if (cstor_store_containers(&list, store, &err) < 0)
		return fail("containers", &err);
	if (json)
		print_json_list(list);
	else
		for (size_t i = 0; list[i]; i++) {
			printf("%s\n", cstor_container_id(list[i]));
			for (const char *const *n = cstor_container_names(list[i]); *n; n++)
				printf("\tname: %s\n", *n);
			for (const char *const *k = cstor_container_big_data_names(list[i]); *k; k++)
				printf("\tdata: %s\n", *k);
		}
	cstor_container_list_free(list);
	return EXIT_OK;
}

static void print_container(cstor_store *store, const cstor_container *c, cstor_image **images)
{
	printf("ID: %s\n", cstor_container_id(c));
	for (const char *const *n = cstor_container_names(c); *n; n++)
		printf("Name: %s\n", *n);
	const char *image = cstor_container_image(c);
	printf("Image: %s\n", image ? image : "");
	for (size_t i = 0; image && images[i]; i++)
		if (strcmp(cstor_image_id(images[i]), image) == 0) {
			for (const char *const *n = cstor_image_names(images[i]); *n; n++)
				printf("Image name: %s\n", *n);
			break;
		}
	cstor_error err = CSTOR_ERROR_INIT;
	int64_t size = 0;
	if (cstor_store_container_size(&size, store, cstor_container_id(c), &err) < 0)
		printf("Size unknown: %s\n", cstor_error_message(&err));
	else
		printf("Size: %lld\n", (long long)size);
	cstor_error_clear(&err);
	printf("Layer: %s\n", cstor_container_layer(c));
	for (const char *const *k = cstor_container_big_data_names(c); *k; k++)
		printf("Data: %s\n", *k);
}

static int container(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_image **images = NULL;
	if (cstor_store_images(&images, store, &err) < 0)
		return fail("container", &err);
	cstor_container **matched = calloc((size_t)argc + 1, sizeof(*matched));
	if (!matched) {
		cstor_image_list_free(images);
		fprintf(stderr, "%s: container: out of memory\n", cli_program);
		return EXIT_FAIL;
	}
	size_t n = 0;
	int rc = EXIT_OK;
	for (int i = 0; i < argc; i++) {
		if (cstor_store_container(&matched[n], store, argv[i], &err) < 0) {
			/* The Go CLI only exits 1; cstor also says why. */
			rc = fail("container", &err);
			continue;
		}
		n++;
	}
	if (json)
		print_json_list(matched);
	else
		for (size_t i = 0; i < n; i++)
			print_container(store, matched[i], images);
	cstor_container_list_free(matched);
	cstor_image_list_free(images);
	return rc;
}

static int create_container(cstor_store *store, int argc, char **argv)
{
	struct cli_idmaps maps;
	if (cli_idmaps_from_args(&maps, &idmap, "create-container") < 0)
		return EXIT_FAIL;
	char *text = NULL;
	if (metadata_file && metadata_file[0]) {
		FILE *f = fopen(metadata_file, "rb");
		size_t len = 0;
		if (!f || cli_read_all(f, &text, &len) < 0) {
			fprintf(stderr, "%s: create-container: read %s: %m\n", cli_program,
				metadata_file);
			if (f)
				fclose(f);
			cli_idmaps_free(&maps);
			return EXIT_FAIL;
		}
		fclose(f);
		if (strlen(text) != len) {
			fprintf(stderr, "%s: create-container: %s: metadata cannot contain NUL bytes\n",
				cli_program, metadata_file);
			free(text);
			cli_idmaps_free(&maps);
			return EXIT_FAIL;
		}
	}
	cstor_container_options o = CSTOR_CONTAINER_OPTIONS_INIT;
	o.id = id && id[0] ? id : NULL;
	o.image = argv[0];
	o.names = (const char *const *)names;
	o.metadata = text ? text : metadata;
	o.is_volatile = is_volatile;
	o.uidmap = maps.uids, o.n_uidmap = maps.n_uids;
	o.gidmap = maps.gids, o.n_gidmap = maps.n_gids;
	o.host_uidmap = idmap.host_uid, o.host_gidmap = idmap.host_gid;
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_container *c = NULL;
	int r = cstor_store_create_container(&c, store, &o, &err);
	free(text);
	cli_idmaps_free(&maps);
	if (r < 0)
		return fail("create-container", &err);
	if (json) {
		char *j = cstor_container_to_json(c);
		printf("%s\n", j ? j : "null");
		free(j);
	} else {
		/* Go 1.43 prints the names without a newline after them. */
		printf("%s\n", cstor_container_id(c));
		for (const char *const *n = cstor_container_names(c); *n; n++)
			printf("\t%s", *n);
	}
	cstor_container_free(c);
	return EXIT_OK;
}

static int delete_container(cstor_store *store, int argc, char **argv)
{
	struct cli_argmap res;
	if (cli_argmap_init(&res, argc) < 0) {
		fprintf(stderr, "%s: delete-container: out of memory\n", cli_program);
		return EXIT_FAIL;
	}
	for (int i = 0; i < argc; i++) {
		cstor_error err = CSTOR_ERROR_INIT;
		if (cstor_store_delete_container(store, argv[i], &err) < 0)
			cli_argmap_set(&res, argv[i], cstor_error_message(&err));
		else
			cli_argmap_set(&res, argv[i], "");
		cstor_error_clear(&err);
	}
	int rc = EXIT_OK;
	for (size_t i = 0; i < res.n; i++)
		if (res.vals[i][0])
			rc = EXIT_FAIL;
	if (json)
		cli_argmap_print_json(&res, false);
	else
		for (size_t i = 0; i < res.n; i++)
			if (res.vals[i][0])
				fprintf(stderr, "%s: %s\n", res.keys[i], res.vals[i]);
	cli_argmap_free(&res);
	return rc;
}

static int print_dir(const char *what, cstor_store *store, const char *ref,
		     int (*get)(char **, cstor_store *, const char *, cstor_error *))
{
	cstor_error err = CSTOR_ERROR_INIT;
	char *path = NULL;
	if (get(&path, store, ref, &err) < 0)
		return fail(what, &err);
	printf("%s\n", path);
	free(path);
	return EXIT_OK;
}

static int get_container_dir(cstor_store *store, int argc, char **argv)
{
	return print_dir("get-container-dir", store, argv[0], cstor_container_dir);
}

static int get_container_run_dir(cstor_store *store, int argc, char **argv)
{
	return print_dir("get-container-run-dir", store, argv[0], cstor_container_run_dir);
}

const struct cli_cmd cmd_containers = {
	.names = { "containers" },
	.args_help = NULL,
	.usage = "List containers",
	.max_args = -1,
	.flags = json_flags,
	.examples = CLI_EXAMPLES("cstor containers", "cstor containers --json"),
	.read_only = true,
	.run = containers,
};

const struct cli_cmd cmd_container = {
	.names = { "container" },
	.args_help = "containerNameOrID [...]",
	.usage = "Examine a container",
	.min_args = 1,
	.max_args = -1,
	.flags = json_flags,
	.examples = CLI_EXAMPLES("cstor container web", "cstor container --json web"),
	.complete = CLI_OBJ_CONTAINER,
	.read_only = true,
	.run = container,
};

const struct cli_cmd cmd_create_container = {
	.names = { "create-container", "createcontainer" },
	.args_help = "parentImageNameOrID",
	.usage = "Create a new container from an image",
	.min_args = 1,
	.max_args = 1,
	.flags = create_flags,
	.examples = CLI_EXAMPLES("cstor create-container -n web busybox", "cstor create-container --name web --uidmap 0:100000:65536 busybox"),
	.complete = CLI_OBJ_IMAGE,
	.run = create_container,
};

const struct cli_cmd cmd_delete_container = {
	.names = { "delete-container", "deletecontainer" },
	.args_help = "[ContainerNameOrID [...]]",
	.usage = "Delete a container, with safety checks",
	.min_args = 1,
	.max_args = -1,
	.flags = json_flags,
	.examples = CLI_EXAMPLES("cstor delete-container web", "cstor delete-container --json web db"),
	.complete = CLI_OBJ_CONTAINER,
	.run = delete_container,
};

const struct cli_cmd cmd_get_container_dir = {
	.names = { "get-container-dir", "getcontainerdir" },
	.args_help = "containerNameOrID",
	.usage = "Find the container's associated data directory",
	.min_args = 1,
	.max_args = 1,
	.examples = CLI_EXAMPLES("cstor get-container-dir web", "ls \"$(cstor get-container-dir web)\""),
	.complete = CLI_OBJ_CONTAINER,
	.read_only = true,
	.run = get_container_dir,
};

const struct cli_cmd cmd_get_container_run_dir = {
	.names = { "get-container-run-dir", "getcontainerrundir" },
	.args_help = "containerNameOrID",
	.usage = "Find the container's associated runtime directory",
	.min_args = 1,
	.max_args = 1,
	.examples = CLI_EXAMPLES("cstor get-container-run-dir web", "ls \"$(cstor get-container-run-dir web)\""),
	.complete = CLI_OBJ_CONTAINER,
	.read_only = true,
	.run = get_container_run_dir,
};
