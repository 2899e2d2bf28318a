/* SPDX-License-Identifier: Apache-2.0 */
/* images, image, images-by-digest, create-image, delete-image */
#include <stdlib.h>
#include <string.h>

#include <cstor/image.h>

#include "cli.h"
#include "util/cleanup.h"
#include "util/strv.h"

static bool json, quiet, test;
static char *id, *digest, *metadata, *metadata_file;
static char **names;

static const struct cli_flag list_flags[] = {
	CLI_JSON_FLAG(json),
	{ { "-quiet", "q" }, CLI_BOOL, &quiet, "Only print IDs" },
	{ { NULL } },
};

static const struct cli_flag image_flags[] = {
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static const struct cli_flag create_flags[] = {
	{ { "-name", "n" }, CLI_LIST, &names, "Image name" },
	{ { "-id", "i" }, CLI_STRING, &id, "Image ID" },
	{ { "-digest", "d" }, CLI_STRING, &digest, "Image Digest" },
	{ { "-metadata", "m" }, CLI_STRING, &metadata, "Metadata" },
	{ { "-metadata-file", "f" }, CLI_STRING, &metadata_file, "Metadata File" },
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static const struct cli_flag delete_flags[] = {
	{ { "-test", "t" }, CLI_BOOL, &test, "Only test removal" },
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static int fail(const char *what, cstor_error *err)
{
	cli_error(what, err);
	cstor_error_clear(err);
	return EXIT_FAIL;
}

static void print_json_list(cstor_image **list, bool null_when_empty)
{
	if (!list[0] && null_when_empty) {
		/* Go's Store.Images returns a nil slice when there are none. */
		puts("null");
		return;
	}
	putchar('[');
	for (size_t i = 0; list[i]; i++) {
		char *j = cstor_image_to_json(list[i]);
		printf("%s%s", i ? "," : "", j ? j : "null");
		free(j);
	}
	puts("]");
}

static void print_list(cstor_image **list)
{
	for (size_t i = 0; list[i]; i++) {
		printf("%s\n", cstor_image_id(list[i]));
		if (quiet)
			continue;
		for (const char *const *n = cstor_image_names(list[i]); *n; n++)
			printf("\tname: %s\n", *n);
		for (const char *const *d = cstor_image_digests(list[i]); *d; d++)
			printf("\tdigest: %s\n", *d);
		for (const char *const *k = cstor_image_big_data_names(list[i]); *k; k++)
			printf("\tdata: %s\n", *k);
	}
}

static int images(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_image **list = NULL;
	if (cstor_store_images(&list, store, &err) < 0)
		return fail("images", &err);
	if (json)
		print_json_list(list, true);
	else
		print_list(list);
	cstor_image_list_free(list);
	return EXIT_OK;
}

static int images_by_digest(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_image **list = NULL;
	if (cstor_store_images_by_digest(&list, store, argv[0], &err) < 0)
		return fail("images-by-digest", &err);
	if (json)
		print_json_list(list, false);
	else
		print_list(list);
	cstor_image_list_free(list);
	return EXIT_OK;
}

static void print_image(cstor_store *store, const cstor_image *img)
{
	printf("ID: %s\n", cstor_image_id(img));
	for (const char *const *n = cstor_image_names(img); *n; n++)
		printf("Name: %s\n", *n);
	const char *top = cstor_image_top_layer(img);
	printf("Top Layer: %s\n", top ? top : "");
	for (const char *const *m = cstor_image_mapped_top_layers(img); *m; m++)
		printf("Top Layer: %s\n", *m);
	for (const char *const *d = cstor_image_digests(img); *d; d++)
		printf("Digest: %s\n", *d);
	for (const char *const *k = cstor_image_big_data_names(img); *k; k++)
		printf("Data: %s\n", *k);
	cstor_error err = CSTOR_ERROR_INIT;
	int64_t size = 0;
	if (cstor_store_image_size(&size, store, cstor_image_id(img), &err) < 0)
		printf("Size unknown: %s\n", cstor_error_message(&err));
	else
		printf("Size: %lld\n", (long long)size);
	cstor_error_clear(&err);
	if (cstor_image_read_only(img))
		printf("Read Only: true\n");
}

static int image(cstor_store *store, int argc, char **argv)
{
	cstor_image **matched = calloc((size_t)argc + 1, sizeof(*matched));
	if (!matched) {
		fprintf(stderr, "%s: image: out of memory\n", cli_program);
		return EXIT_FAIL;
	}
	size_t n = 0;
	int rc = EXIT_OK;
	for (int i = 0; i < argc; i++) {
		cstor_error err = CSTOR_ERROR_INIT;
		if (cstor_store_image(&matched[n], store, argv[i], &err) < 0) {
			/* The Go CLI only exits 1; cstor also says why. */
			rc = fail("image", &err);
			continue;
		}
		n++;
	}
	if (json)
		print_json_list(matched, false);
	else
		for (size_t i = 0; i < n; i++)
			print_image(store, matched[i]);
	cstor_image_list_free(matched);
	return rc;
}

static int create_image(cstor_store *store, int argc, char **argv)
{
	char *text = NULL;
	if (metadata_file && metadata_file[0]) {
		FILE *f = fopen(metadata_file, "rb");
		size_t len = 0;
		if (!f || cli_read_all(f, &text, &len) < 0) {
			fprintf(stderr, "%s: create-image: read %s: %m\n", cli_program, metadata_file);
			if (f)
				fclose(f);
			return EXIT_FAIL;
		}
		fclose(f);
		if (strlen(text) != len) {
			fprintf(stderr, "%s: create-image: %s: metadata cannot contain NUL bytes\n",
				cli_program, metadata_file);
			free(text);
			return EXIT_FAIL;
		}
	}
	cstor_image_options o = CSTOR_IMAGE_OPTIONS_INIT;
	o.id = id && id[0] ? id : NULL;
	o.top_layer = argc > 0 ? argv[0] : NULL;
	o.names = (const char *const *)names;
	o.metadata = text ? text : metadata;
	o.digest = digest && digest[0] ? digest : NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_image *img = NULL;
	int r = cstor_store_create_image(&img, store, &o, &err);
	free(text);
	if (r < 0)
		return fail("create-image", &err);
	if (json) {
		char *j = cstor_image_to_json(img);
		printf("%s\n", j ? j : "null");
		free(j);
	} else {
		printf("%s\n", cstor_image_id(img));
		for (const char *const *n = cstor_image_names(img); *n; n++)
			printf("\t%s\n", *n);
	}
	cstor_image_free(img);
	return EXIT_OK;
}

/* delete-image: per distinct argument (the last result of a repeated one,
 * as Go's map keeps it), in the order of the arguments. */
struct deleted {
	const char *arg;
	char **layers;
	char *error;
};

static int cmp_arg(const void *a, const void *b)
{
	return strcmp(((const struct deleted *)a)->arg, ((const struct deleted *)b)->arg);
}

static int delete_image(cstor_store *store, int argc, char **argv)
{
	struct deleted *res = calloc((size_t)argc, sizeof(*res));
	if (!res) {
		fprintf(stderr, "%s: delete-image: out of memory\n", cli_program);
		return EXIT_FAIL;
	}
	size_t n = 0;
	for (int i = 0; i < argc; i++) {
		size_t k = 0;
		while (k < n && strcmp(res[k].arg, argv[i]) != 0)
			k++;
		if (k == n)
			res[n++].arg = argv[i];
		strv_free(res[k].layers);
		free(res[k].error);
		res[k].layers = NULL;
		res[k].error = NULL;
		cstor_error err = CSTOR_ERROR_INIT;
		if (cstor_store_delete_image(&res[k].layers, store, argv[i],
					     test ? CSTOR_DELETE_IMAGE_DRY_RUN : 0, &err) < 0)
			res[k].error = strdup(cstor_error_message(&err));
		cstor_error_clear(&err);
	}
	int rc = EXIT_OK;
	for (size_t i = 0; i < n; i++)
		if (res[i].error)
			rc = EXIT_FAIL;
	if (json) {
		/* {"arg":{"deleted-layers":[...],"error":"..."}}, omitempty,
		 * keys sorted as Go sorts a map. */
		qsort(res, n, sizeof(*res), cmp_arg);
		putchar('{');
		for (size_t i = 0; i < n; i++) {
			if (i)
				putchar(',');
			cli_json_string(stdout, res[i].arg);
			fputs(":{", stdout);
			bool any = false;
			if (res[i].layers && res[i].layers[0]) {
				fputs("\"deleted-layers\":[", stdout);
				for (size_t l = 0; res[i].layers[l]; l++) {
					if (l)
						putchar(',');
					cli_json_string(stdout, res[i].layers[l]);
				}
				putchar(']');
				any = true;
			}
			if (res[i].error && res[i].error[0]) {
				fputs(any ? ",\"error\":" : "\"error\":", stdout);
				cli_json_string(stdout, res[i].error);
			}
			putchar('}');
		}
		puts("}");
	} else
		/* Go prints the deleted layers to stderr too. */
		for (size_t i = 0; i < n; i++) {
			if (res[i].error)
				fprintf(stderr, "%s: %s\n", res[i].arg, res[i].error);
			else
				for (size_t l = 0; res[i].layers && res[i].layers[l]; l++)
					fprintf(stderr, "%s: %s\n", res[i].arg, res[i].layers[l]);
		}
	for (size_t i = 0; i < n; i++) {
		strv_free(res[i].layers);
		free(res[i].error);
	}
	free(res);
	return rc;
}

const struct cli_cmd cmd_images = {
	.names = { "images" },
	.args_help = NULL,
	.usage = "List images",
	.max_args = -1,
	.flags = list_flags,
	.examples = CLI_EXAMPLES("cstor images", "cstor images --json", "cstor -g /var/lib/mystore images"),
	.read_only = true,
	.run = images,
};

const struct cli_cmd cmd_images_by_digest = {
	.names = { "images-by-digest" },
	.args_help = "DIGEST",
	.usage = "List images by digest",
	.min_args = 1,
	.max_args = 1,
	.flags = list_flags,
	.examples = CLI_EXAMPLES("cstor images-by-digest sha256:0123...", "cstor images-by-digest --json sha256:0123..."),
	.read_only = true,
	.run = images_by_digest,
};

const struct cli_cmd cmd_image = {
	.names = { "image" },
	.args_help = "imageNameOrID [...]",
	.usage = "Examine an image",
	.min_args = 1,
	.max_args = -1,
	.flags = image_flags,
	.examples = CLI_EXAMPLES("cstor image busybox", "cstor image --json busybox"),
	.complete = CLI_OBJ_IMAGE,
	.read_only = true,
	.run = image,
};

const struct cli_cmd cmd_create_image = {
	.names = { "create-image", "createimage" },
	.args_help = "topLayerNameOrID",
	.usage = "Create a new image using layers",
	.max_args = 1,
	.flags = create_flags,
	.examples = CLI_EXAMPLES("cstor create-image -n myimage:latest mylayer", "cstor create-image --name myimage --metadata '{}' mylayer"),
	.complete = CLI_OBJ_LAYER,
	.run = create_image,
};

const struct cli_cmd cmd_delete_image = {
	.names = { "delete-image", "deleteimage" },
	.args_help = "[ImageNameOrID [...]]",
	.usage = "Delete an image, with safety checks",
	.min_args = 1,
	.max_args = -1,
	.flags = delete_flags,
	.examples = CLI_EXAMPLES("cstor delete-image busybox", "cstor delete-image --json myimage"),
	.complete = CLI_OBJ_IMAGE,
	.run = delete_image,
};

static int image_dir(const char *what, cstor_store *store, const char *ref,
		     int (*get)(char **, cstor_store *, const char *, cstor_error *))
{
	cstor_error err = CSTOR_ERROR_INIT;
	char *path = NULL;
	if (get(&path, store, ref, &err) < 0) {
		cli_error(what, &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	printf("%s\n", path);
	free(path);
	return EXIT_OK;
}

static int get_image_dir(cstor_store *store, int argc, char **argv)
{
	return image_dir("get-image-dir", store, argv[0], cstor_image_dir);
}

static int get_image_run_dir(cstor_store *store, int argc, char **argv)
{
	return image_dir("get-image-run-dir", store, argv[0], cstor_image_run_dir);
}

const struct cli_cmd cmd_get_image_dir = {
	.names = { "get-image-dir", "getimagedir" },
	.args_help = "imageNameOrID",
	.usage = "Find the image's associated data directory",
	.min_args = 1,
	.max_args = 1,
	.examples = CLI_EXAMPLES("cstor get-image-dir busybox", "ls \"$(cstor get-image-dir busybox)\""),
	.complete = CLI_OBJ_IMAGE,
	.run = get_image_dir,
};

const struct cli_cmd cmd_get_image_run_dir = {
	.names = { "get-image-run-dir", "getimagerundir" },
	.args_help = "imageNameOrID",
	.usage = "Find the image's associated runtime directory",
	.min_args = 1,
	.max_args = 1,
	.examples = CLI_EXAMPLES("cstor get-image-run-dir busybox", "ls \"$(cstor get-image-run-dir busybox)\""),
	.complete = CLI_OBJ_IMAGE,
	.run = get_image_run_dir,
};
