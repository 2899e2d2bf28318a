/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Clang thread-safety analysis (-Wthread-safety). Locks are capabilities:
 * a field marked CSTOR_GUARDED_BY(&s->lock) can only be touched while that
 * lock is held, and a function marked CSTOR_REQUIRES(...) can only be called
 * with it held. CI builds with clang and -Werror=thread-safety, so a
 * violation breaks the build. Other compilers see empty macros.
 *
 * Clang (up to 22) resolves member references in C only for capabilities
 * embedded in the struct, written as CSTOR_GUARDED_BY(&lock); a pointer
 * member does not work. That is why stores embed a `cstor_lock` (a small
 * capability wrapper) instead of pointing at a shared lock file object.
 *
 * Clang before 19 cannot name a struct member in an attribute of another
 * member in C at all ("use of undeclared identifier 'lock'"; support came
 * with llvm/llvm-project#95455), so there the field attributes
 * CSTOR_GUARDED_BY, CSTOR_PT_GUARDED_BY and CSTOR_ACQUIRED_BEFORE/AFTER are
 * empty: Debian 12's clang 14 still checks every function annotation
 * (acquire, release, requires on parameters), clang 19 the fields too. CI
 * builds with both (tests/build-matrix.sh). Write CSTOR_GUARDED_BY(&lock)
 * with the '&': clang 19 accepts a bare `lock` in C but then does not match
 * it to s->lock (llvm/llvm-project#161854).
 *
 * Fallible acquisitions (load a store under its lock, which can fail on a
 * corrupt file) return 0 with the lock held and are declared
 * CSTOR_TRY_ACQUIRE(0, ...). Callers must test them with `!= 0`: clang
 * understands `if (r != 0)` but not `if (r < 0)`.
 *
 * CSTOR_NO_TSA is reserved for the lock primitives themselves.
 */
#ifndef CSTOR_UTIL_TSA_H
#define CSTOR_UTIL_TSA_H

#if defined(__clang__) && defined(__has_attribute)
#if __has_attribute(capability)
#define CSTOR_TSA(x) __attribute__((x))
#endif
#endif
#ifndef CSTOR_TSA
#define CSTOR_TSA(x)
#endif

#define CSTOR_CAPABILITY(name) CSTOR_TSA(capability(name))
/* On struct fields: see above for clang < 19. */
#if defined(__clang_major__) && __clang_major__ >= 19
#define CSTOR_GUARDED_BY(x) CSTOR_TSA(guarded_by(x))
#define CSTOR_PT_GUARDED_BY(x) CSTOR_TSA(pt_guarded_by(x))
#define CSTOR_ACQUIRED_BEFORE(...) CSTOR_TSA(acquired_before(__VA_ARGS__))
#define CSTOR_ACQUIRED_AFTER(...) CSTOR_TSA(acquired_after(__VA_ARGS__))
#else
#define CSTOR_GUARDED_BY(x)
#define CSTOR_PT_GUARDED_BY(x)
#define CSTOR_ACQUIRED_BEFORE(...)
#define CSTOR_ACQUIRED_AFTER(...)
#endif
#define CSTOR_REQUIRES(...) CSTOR_TSA(requires_capability(__VA_ARGS__))
#define CSTOR_REQUIRES_SHARED(...) CSTOR_TSA(requires_shared_capability(__VA_ARGS__))
#define CSTOR_ACQUIRE(...) CSTOR_TSA(acquire_capability(__VA_ARGS__))
#define CSTOR_ACQUIRE_SHARED(...) CSTOR_TSA(acquire_shared_capability(__VA_ARGS__))
#define CSTOR_RELEASE(...) CSTOR_TSA(release_capability(__VA_ARGS__))
#define CSTOR_RELEASE_SHARED(...) CSTOR_TSA(release_shared_capability(__VA_ARGS__))
#define CSTOR_RELEASE_GENERIC(...) CSTOR_TSA(release_generic_capability(__VA_ARGS__))
#define CSTOR_TRY_ACQUIRE(...) CSTOR_TSA(try_acquire_capability(__VA_ARGS__))
#define CSTOR_TRY_ACQUIRE_SHARED(...) CSTOR_TSA(try_acquire_shared_capability(__VA_ARGS__))
#define CSTOR_EXCLUDES(...) CSTOR_TSA(locks_excluded(__VA_ARGS__))
#define CSTOR_ASSERT_CAPABILITY(x) CSTOR_TSA(assert_capability(x))
#define CSTOR_ASSERT_SHARED_CAPABILITY(x) CSTOR_TSA(assert_shared_capability(x))
#define CSTOR_RETURN_CAPABILITY(x) CSTOR_TSA(lock_returned(x))
#define CSTOR_NO_TSA CSTOR_TSA(no_thread_safety_analysis)

#endif
