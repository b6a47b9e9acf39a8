/* One virtio-mmio slot of the core with a vhost-user backend behind it (DESIGN.md §3, §4): the
 * transport's ops, the frontend handshake, KVM ioeventfds for QueueNotify and an irqfd for the
 * slot's GSI, so that no request passes through the core. Attach at boot, re-attach after a
 * worker died, and detach are one path; the slot and its guest-visible state outlive any
 * backend. Included by bulkhead-core only. */
#ifndef BULKHEAD_VU_SLOT_H
#define BULKHEAD_VU_SLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "ipc.h"
#include "virtio_mmio.h"
#include "vu_frontend.h"
#include "worker_kinds.h"

struct vm;

#define VU_SLOT_REPLY_TIMEOUT_MS 10000

struct vu_slot {
	struct vmmio t;             /* first: the transport, with the lock guarding all below */
	struct vm *vm;
	unsigned index;
	char name[16];              /* "slot N" */
	char backend_name[64];      /* from the supervisor, for log lines */
	const struct worker_kind_desc *kind;   /* the worker kind this slot holds */
	bool external;              /* not ours to restart: its death means NEEDS_RESET */

	int sock;                   /* vhost-user connection, -1 without a backend */
	struct vu_front front;
	bool connected;             /* handshake up to GET_CONFIG done on sock */
	bool running;               /* vrings handed to the backend */
	bool dead;                  /* a request failed: the main loop detaches it */
	uint64_t acked_protocol;

	int inflight_fd;            /* kept across backends; dropped on a guest reset */
	struct vu_inflight inflight;

	int kick_fd[VMMIO_MAX_QUEUES];
	uint64_t kicks_passed;      /* kicks that reached the core and went on (slot_notify) */
	bool kick_registered[VMMIO_MAX_QUEUES];
	int call_fd;
	bool call_registered;
	unsigned attaches;
};

/* Create the empty slot `index` (base and GSI from vm->desc.mmio[index]) for a worker of `kind`
 * and put it on the MMIO bus. */
int vu_slot_init(struct vu_slot *s, struct vm *vm, unsigned index,
		 const struct worker_kind_desc *kind, bool external);
void vu_slot_exit(struct vu_slot *s);

/*
 * Give the slot a connected vhost-user socket (ownership passes to the slot, also on error).
 * Any previous backend is detached first. Runs the handshake; when the driver already set
 * DRIVER_OK the vrings are handed over at once with the guest's used index and the kept
 * inflight area. Returns 0, or -errno when this backend failed (the slot then has none).
 */
int vu_slot_attach(struct vu_slot *s, int sock, const char *name);
/* The backend went away (HUP on sock, or it failed a request): unregister everything and wait
 * for the next one. External backends leave the device needing a reset. */
void vu_slot_detach(struct vu_slot *s, const char *why);

/* Hotplug (DESIGN.md §4): an empty slot offers its kind's device with the kind's empty config (a NIC: mac)
 * and features (a disk: capacity 0, "no medium") so the guest's driver binds at boot; plug
 * attaches a new worker (as vu_slot_attach, never external); unplug drops the backend and its
 * in-flight area and goes back to the kind's unplugged config. Plug and unplug change config
 * space and so raise a config interrupt. */
void vu_slot_set_empty(struct vu_slot *s, const uint8_t mac[6]);
/* A kind whose config space is the core's (kind->frontend_config): written from c at boot. */
void vu_slot_set_frontend_config(struct vu_slot *s, const struct core_config *c);
int vu_slot_plug(struct vu_slot *s, int sock, const char *name);
void vu_slot_unplug(struct vu_slot *s);

/* For the main loop: the socket to watch for HUP (-1 for none), and whether a request
 * failed since (then call vu_slot_detach). */
int vu_slot_fd(const struct vu_slot *s);

#endif
