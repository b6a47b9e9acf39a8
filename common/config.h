/* The VM configuration model: what the command line (and later the JSON config) describes.
 * Parsed by the supervisor; fixed-size, pointer-free, so parts of it can cross to the core. */
#ifndef BULKHEAD_CONFIG_H
#define BULKHEAD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define VM_NAME_MAX      255
#define VM_PATH_MAX      4096
#define VM_CMDLINE_MAX   4096
#define VM_MIN_CPUS      1
#define VM_MAX_CPUS      254
#define VM_MIN_MEM       (256ULL << 20)
#define VM_MAX_MEM       (512ULL << 30)
#define VM_DEFAULT_MEM   (256ULL << 20)

struct vm_config {
	char name[VM_NAME_MAX + 1];          /* -name; empty when not given */
	char uuid[37];                       /* -uuid, canonical 8-4-4-4-12 form; empty if unset */
	bool acpi;                           /* -machine acpi=on|off (default on) */
	bool dump_guest_core;                /* -machine dump-guest-core= (default on) */
	bool mem_share;                      /* -machine mem-share= (default off) */
	char kernel[VM_PATH_MAX];            /* -kernel (required) */
	char initrd[VM_PATH_MAX];            /* -initrd; empty when not given */
	char cmdline[VM_CMDLINE_MAX];        /* -append */
	unsigned ncpus;                      /* -smp, 1..254 (default 1) */
	uint64_t mem_size;                   /* -m, bytes, 256 MiB..512 GiB (default 256 MiB) */
	char mem_path[VM_PATH_MAX];          /* -mem-path (absolute); empty when not given */
	bool serial_stdio;                   /* -serial stdio */
	bool log_to_file;                    /* -D given */
	char log_file[VM_PATH_MAX];          /* -D FILE; empty means stderr */
	bool daemonize;                      /* -daemonize */
	char pidfile[VM_PATH_MAX];           /* -pidfile (only with -daemonize) */
	bool disable_seccomp;                /* -disable-seccomp */
};

#endif
