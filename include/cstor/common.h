/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared macros of the public cstor headers. Self-contained: no config.h,
 * C89-compatible declarations, usable from C++.
 */
#ifndef CSTOR_COMMON_H
#define CSTOR_COMMON_H

#ifdef __cplusplus
#define CSTOR_BEGIN_DECL extern "C" {
#define CSTOR_END_DECL }
#else
#define CSTOR_BEGIN_DECL
#define CSTOR_END_DECL
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CSTOR_PUBLIC __attribute__((visibility("default")))
#else
#define CSTOR_PUBLIC
#endif

#define CSTOR_VERSION_MAJOR 0
#define CSTOR_VERSION_MINOR 1
#define CSTOR_VERSION_PATCH 0

#endif
