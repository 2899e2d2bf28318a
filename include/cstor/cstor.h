/* SPDX-License-Identifier: Apache-2.0 */
/* Umbrella header of libcstor. */
#ifndef CSTOR_CSTOR_H
#define CSTOR_CSTOR_H

#include <cstor/common.h>
#include <cstor/container.h>
#include <cstor/check.h>
#include <cstor/error.h>
#include <cstor/idmap.h>
#include <cstor/image.h>
#include <cstor/layer.h>
#include <cstor/mount.h>
#include <cstor/registry.h>
#include <cstor/store.h>
#include <cstor/transfer.h>

#endif
