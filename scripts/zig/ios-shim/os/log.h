/*
 * COMPILE-CHECK SHIM -- NOT Apple's <os/log.h>. Never used for a real build.
 *
 * scripts/cross-check.sh compile-checks portcullis-ffi for aarch64-apple-ios on
 * a machine without Xcode, compiling build-script C with `zig cc`. The iOS
 * logging crate `oslog` compiles a small wrapper.c that includes <os/log.h>, and
 * Zig's bundled darwin headers have no os/log.h. This file declares just the
 * part of the public os_log API that wrapper.c uses, written from Apple's
 * documented interface (types, the OS_LOG_TYPE_* values, OS_LOG_DEFAULT and the
 * os_log* macros), so that oslog's build script runs and cargo can go on to
 * type-check the iOS-only Rust code in bindings/src/logging.rs.
 *
 * Why a shim rather than skipping oslog's C: skipping it would need a patched
 * crate or a fake build-script output, and would then not notice if oslog's C
 * stopped compiling against the declared API. With the shim, wrapper.c is still
 * compiled for real: calls are type-checked, the format must be a string
 * literal (as with Apple's macros), and clang's `os_log` format checking
 * validates specifiers such as "%{public}s" against their arguments; the
 * pragma below makes a format mismatch an error in any file including this.
 *
 * What it does NOT do: log anything. The macros call a function that is only
 * declared, never defined; objects compiled against this header cannot link and
 * are never shipped. Real iOS builds use the SDK's header through Xcode (the
 * XCFramework script).
 */
#ifndef PORTCULLIS_COMPILE_CHECK_OS_LOG_SHIM_H
#define PORTCULLIS_COMPILE_CHECK_OS_LOG_SHIM_H

#include <stdbool.h>
#include <stdint.h>

#pragma clang diagnostic error "-Wformat"

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque log handle; in C, Apple's os_log_t is a pointer to struct os_log_s. */
typedef struct os_log_s *os_log_t;

/* Log levels, with the values Apple documents (and oslog's sys.rs mirrors). */
typedef uint8_t os_log_type_t;
#define OS_LOG_TYPE_DEFAULT ((os_log_type_t)0x00)
#define OS_LOG_TYPE_INFO ((os_log_type_t)0x01)
#define OS_LOG_TYPE_DEBUG ((os_log_type_t)0x02)
#define OS_LOG_TYPE_ERROR ((os_log_type_t)0x10)
#define OS_LOG_TYPE_FAULT ((os_log_type_t)0x11)

/* The process's default log object. */
extern struct os_log_s _os_log_default;
#define OS_LOG_DEFAULT (&_os_log_default)

os_log_t os_log_create(const char *subsystem, const char *category);
bool os_log_type_enabled(os_log_t log, os_log_type_t type);

/*
 * Stand-in for Apple's internal logging entry point. Declared only: the name
 * says what it is, so a link that somehow picked up one of these objects fails
 * loudly instead of logging nowhere.
 */
void portcullis_compile_check_shim_os_log_NOT_LINKABLE(
    os_log_t log, os_log_type_t type, const char *format, ...)
    __attribute__((format(os_log, 3, 4)));

/* `"" format ""` rejects a non-literal format, as Apple's macros do. */
#define os_log_with_type(log, type, format, ...)                                \
    portcullis_compile_check_shim_os_log_NOT_LINKABLE(                        \
        (log), (type), "" format "", ##__VA_ARGS__)

#define os_log(log, format, ...)                                                \
    os_log_with_type(log, OS_LOG_TYPE_DEFAULT, format, ##__VA_ARGS__)
#define os_log_info(log, format, ...)                                           \
    os_log_with_type(log, OS_LOG_TYPE_INFO, format, ##__VA_ARGS__)
#define os_log_debug(log, format, ...)                                          \
    os_log_with_type(log, OS_LOG_TYPE_DEBUG, format, ##__VA_ARGS__)
#define os_log_error(log, format, ...)                                          \
    os_log_with_type(log, OS_LOG_TYPE_ERROR, format, ##__VA_ARGS__)
#define os_log_fault(log, format, ...)                                          \
    os_log_with_type(log, OS_LOG_TYPE_FAULT, format, ##__VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif /* PORTCULLIS_COMPILE_CHECK_OS_LOG_SHIM_H */
