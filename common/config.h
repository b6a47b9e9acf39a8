/* The VM configuration model: what the command line and the JSON config file describe.
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

#define VM_MAX_DRIVES    6               /* StratoVirt microvm: 6 disk slots */
#define VM_MAX_DISKS     6               /* drives plus vhost-user-blk devices */
#define VM_MAX_CHARDEVS  8
#define VM_ID_MAX        63
#define VM_SERIAL_MAX    20              /* VIRTIO_BLK_ID_BYTES */
#define VM_MAX_IOPS      1000000
#define VM_MAX_BLK_QUEUES 16             /* queues of one disk; the default is the vCPUs' count */
#define VM_MAX_POLL_US   1000            /* a disk worker's longest polling window */
#define VM_SUN_PATH_MAX  108             /* sizeof(sockaddr_un.sun_path), NUL included */
#define VM_RUNAS_MAX     65              /* "USER:GROUP", 32 characters each */
#define VM_MAX_HOTPLUG_DIRS 8
#define VM_MAX_NICS      2               /* StratoVirt microvm: 2 NIC slots */
#define VM_MAX_NET_QUEUES 8              /* queue pairs of one NIC (one tap queue each) */
#define VM_IFNAME_MAX    15              /* IFNAMSIZ - 1 */
#define VM_MAX_VSOCKS    1               /* one vsock device, in a slot of its own */
#define VM_VSOCK_CID_MIN 3ULL            /* 0-2 are the hypervisor, local and host CIDs */
#define VM_VSOCK_CID_MAX 0xfffffffeULL   /* 2^32-1 is VMADDR_CID_ANY */
#define VM_MAX_IOTHREADS 8               /* StratoVirt: at most eight iothreads */
#define VM_MAX_RNGS      1               /* one virtio-rng device, in a slot of its own */
#define VM_MAX_RNG_OBJECTS 4             /* -object rng-random, each usable by the device */
#define VM_RNG_MAX_BYTES (1ULL << 31)    /* max-bytes= per period */
#define VM_RNG_MAX_PERIOD 1000000        /* period=, milliseconds */
#define VM_RNG_DEFAULT_PERIOD 1000
#define VM_MAX_FS        1               /* one virtio-fs device, in a slot of its own */
#define VM_FS_TAG_MAX    36              /* virtio_fs_config.tag: the guest's mount source */
#define VM_FS_MAX_REQUEST_QUEUES 8
#define VM_MAX_CONSOLES  1               /* one virtio console (hvc0), in a slot of its own */

/* -drive id=,file=[,readonly][,direct][,serial][,iops][,iothread][,poll-us], with what its
 * -device virtio-blk-device adds (id, serial, iothread, num-queues) */
struct vm_drive {
	char id[VM_ID_MAX + 1];
	char file[VM_PATH_MAX];
	bool readonly;
	bool direct;
	char serial[VM_SERIAL_MAX + 1];
	uint32_t iops;                       /* 0 = unlimited */
	unsigned num_queues;                 /* 0: as many as vCPUs, up to VM_MAX_BLK_QUEUES */
	bool has_poll_us;                    /* poll-us= given; else the worker's default */
	uint32_t poll_us;                    /* 0: no polling */
	char iothread[VM_ID_MAX + 1];        /* accepted and recorded; workers have their own loop */
	char dev_id[VM_ID_MAX + 1];          /* id= of its -device virtio-blk-device, if any */
	bool has_device;
	unsigned seq;                        /* command-line position, for slot order */
};

/* -iothread id= (or the JSON file's "iothread" list): recorded, so the ids drives and NICs
 * name can be listed; each bulkhead worker runs its own event loop, so none is started. */
struct vm_iothread {
	char id[VM_ID_MAX + 1];
};

/* -chardev socket,id=,path=[,server][,nowait] */
struct vm_chardev {
	char id[VM_ID_MAX + 1];
	char path[108];                      /* sun_path */
	bool server;
	bool nowait;
};

/* -device vhost-user-blk-device,chardev=[,id=] */
struct vm_vhost_user_blk {
	char chardev[VM_ID_MAX + 1];
	char dev_id[VM_ID_MAX + 1];
	unsigned seq;
};

/*
 * A NIC and its tap: -netdev tap,id=,ifname=|fds= with -device virtio-net-device,netdev=,id=
 * [,mac=][,mq=on], or the older manual's single -netdev id=,netdev=TAP[,mac=][,iothread=];
 * or a NIC served by an external backend: -netdev vhost-user,id=,chardev=. NIC slot i is
 * nets[i], in command-line order.
 */
struct vm_net {
	char id[VM_ID_MAX + 1];              /* the netdev id */
	char ifname[VM_IFNAME_MAX + 1];      /* the tap's name, or "" with fds */
	int fds[VM_MAX_NET_QUEUES];          /* fds= (Kata): inherited tap queues, one per pair */
	unsigned nfds;
	unsigned queues;                     /* queue pairs: nfds, or with mq=on and ifname 2 */
	uint8_t mac[6];
	bool has_mac;                        /* else the supervisor picks one for the VM */
	char iothread[VM_ID_MAX + 1];
	char dev_id[VM_ID_MAX + 1];          /* id= of its -device virtio-net-device */
	bool has_device;
	unsigned seq;                        /* command-line position, for slot order */
	char chardev[VM_ID_MAX + 1];         /* -netdev vhost-user: the external backend's
					      * -chardev; "" for a tap */
};

/*
 * The VM's vsock device (at most one, in a slot of its own): -device vsock,id=,guest-cid=
 * [,uds-path=] (older manual; uds-path is bulkhead's), -device vhost-vsock-device,id=,
 * guest-cid=[,vhostfd=] (Kata), or -device vhost-user-vsock-device,chardev=[,id=] for an
 * external backend, which gives the CID itself.
 */
struct vm_vsock {
	bool present;
	char id[VM_ID_MAX + 1];
	uint64_t guest_cid;
	char uds_path[VM_SUN_PATH_MAX];      /* unix-socket mode: the VM's socket; NAME_<port>
					      * beside it are the host's listeners */
	int vhostfd;                         /* Kata's open /dev/vhost-vsock, or -1 */
	char chardev[VM_ID_MAX + 1];         /* vhost-user-vsock-device; "" otherwise */
};

/* -device virtio-rng-device,rng=OBJ[,id=][,max-bytes=][,period=] with the -object
 * rng-random,id=OBJ,filename=PATH it names: bulkhead-rng reads PATH (a character device,
 * opened by the supervisor) into the guest's buffers, at most max_bytes per period_ms. */
struct vm_rng {
	bool present;
	char id[VM_ID_MAX + 1];
	char object[VM_ID_MAX + 1];          /* rng= */
	char filename[VM_PATH_MAX];          /* the object's filename= */
	uint64_t max_bytes;                  /* 0: no limit */
	uint64_t period_ms;                  /* 1..VM_RNG_MAX_PERIOD, default 1000 */
};

/* -device virtio-serial-device[,id=] with -device virtconsole,chardev=C[,id=][,nr=0] on it and
 * -chardev socket,id=C,path=P,server,nowait: the guest's hvc0 on a unix socket bulkhead
 * listens on at P, served by bulkhead-hvc (one port, the console). */
struct vm_console {
	bool present;                        /* the virtconsole */
	bool has_bus;                        /* the virtio-serial-device */
	char bus_id[VM_ID_MAX + 1];
	char id[VM_ID_MAX + 1];
	char chardev[VM_ID_MAX + 1];
	char path[VM_SUN_PATH_MAX];          /* the chardev's path, once resolved */
};

/* -device vhost-user-fs-device,chardev=C,tag=T[,id=][,num-request-queues=N] with -chardev
 * socket,id=C,path=P: an external virtiofsd listening at P, which bulkhead connects to (Kata
 * writes server,nowait on that chardev all the same); the guest mounts -t virtiofs T. The
 * config space (tag, queue count) is ours to show: virtiofsd serves none. */
struct vm_fs {
	bool present;
	char id[VM_ID_MAX + 1];
	char chardev[VM_ID_MAX + 1];
	char tag[VM_FS_TAG_MAX + 1];
	unsigned request_queues;             /* 1..VM_FS_MAX_REQUEST_QUEUES, default 1 */
};

enum vm_disk_kind { VM_DISK_DRIVE = 1, VM_DISK_VHOST_USER };

/* A guest disk: virtio-mmio slot i is disks[i], in command-line order. */
struct vm_disk {
	enum vm_disk_kind kind;
	unsigned index;                      /* into drives[] or vhost_user_blk[] */
};

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
	char qmp_path[VM_SUN_PATH_MAX];      /* -api-channel unix:PATH / -qmp unix:PATH,server,nowait */
	char runas[VM_RUNAS_MAX + 1];        /* -runas USER[:GROUP]; the supervisor resolves it */
	unsigned nhotplug_dirs;              /* -hotplug-dir DIR (absolute), repeatable */
	char hotplug_dirs[VM_MAX_HOTPLUG_DIRS][VM_PATH_MAX];
	unsigned niothreads;
	struct vm_iothread iothreads[VM_MAX_IOTHREADS];
	unsigned ndrives;
	struct vm_drive drives[VM_MAX_DRIVES];
	unsigned nchardevs;
	struct vm_chardev chardevs[VM_MAX_CHARDEVS];
	unsigned nvhost_user_blk;
	struct vm_vhost_user_blk vhost_user_blk[VM_MAX_DISKS];
	unsigned ndisks;                     /* filled once the command line is read */
	struct vm_disk disks[VM_MAX_DISKS];
	unsigned nnets;
	struct vm_net nets[VM_MAX_NICS];
	struct vm_vsock vsock;
	struct vm_rng rng;
	struct vm_console console;
	struct vm_fs fs;
};

#endif
